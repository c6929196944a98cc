//! Time: the [`Clock`](clock::Clock) tests move, and the cheap upper bound
//! of it that a cache hit reads ([`coarse_clock`]).

pub(crate) mod clock;
pub(crate) mod coarse_clock;
