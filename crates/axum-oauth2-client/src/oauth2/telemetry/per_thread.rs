//! Counters that a cache hit can bump without writing memory that another
//! thread writes: one cell per thread, each on cache lines of its own,
//! summed when they are read.
//!
//! A single atomic counter shared by every caller would cost a hit more
//! than the rest of it: each increment takes the counter's cache line away
//! from the core that wrote it last, so two threads serving hits would
//! take turns waiting for it. Here a thread claims a cell index the first
//! time it counts (from a process-wide list of free indices, under a
//! mutex taken once per thread) and gives it back when it exits, so that a
//! pool whose threads come and go keeps reusing the same few cells. Every
//! [`PerThread`] has a cell for each index, and a thread writes only the
//! cell of its own index: an increment is a relaxed load and store on a
//! line no other thread writes (no read-modify-write instruction). A
//! reader sees each cell's value before or after a concurrent increment,
//! never a torn one.
//!
//! Threads beyond [`CELLS`] alive at once share one last cell and add to
//! it with `fetch_add`: still exact, only slower when they contend.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Cells of their own: how many threads at once count without sharing.
pub(crate) const CELLS: usize = 32;

/// The index of the cell that the threads without one share.
const SHARED: usize = CELLS;

/// A thread that has not claimed an index yet.
const UNCLAIMED: usize = usize::MAX;

/// `N` counts per thread, summed on read.
pub(crate) struct PerThread<const N: usize> {
    /// One line per index, the shared one last.
    lines: Box<[Line<N>; CELLS + 1]>,
}

/// The counts of one thread. Aligned to two cache lines: on x86 the
/// adjacent-line prefetcher pulls lines in pairs, so a neighbour on the
/// pair's other line would still be disturbed by every write.
#[repr(align(128))]
struct Line<const N: usize> {
    counts: [AtomicU64; N],
}

impl<const N: usize> Default for PerThread<N> {
    fn default() -> Self {
        Self {
            lines: Box::new(std::array::from_fn(|_| Line {
                counts: std::array::from_fn(|_| AtomicU64::new(0)),
            })),
        }
    }
}

impl<const N: usize> PerThread<N> {
    /// Adds one to count `which` (below `N`) of the calling thread.
    #[inline]
    pub(crate) fn add(&self, which: usize) {
        let index = thread_index();
        let cell = &self.lines[index.min(SHARED)].counts[which];
        if index < SHARED {
            // Only this thread writes this cell: no atomic read-modify-write.
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        } else {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count `which` over every thread, those gone included.
    pub(crate) fn sum(&self, which: usize) -> u64 {
        self.lines
            .iter()
            .map(|line| line.counts[which].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// The indices that are free, and the next one never given out.
struct Pool {
    free: Vec<usize>,
    next: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    next: 0,
});

thread_local! {
    /// This thread's index: `UNCLAIMED` until it first counts, `SHARED`
    /// when none was free or once it was given back.
    static INDEX: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// Gives the index back when the thread exits.
    static RELEASE: Release = const { Release };
}

/// This thread's cell index, claimed on first use.
#[inline]
fn thread_index() -> usize {
    let index = INDEX.get();
    if index != UNCLAIMED {
        return index;
    }
    claim()
}

/// Claims an index for this thread, or `SHARED` when none is left or the
/// thread is already exiting (it could not give the index back).
#[cold]
fn claim() -> usize {
    // Registers the release first: a thread that can no longer register
    // one must not take an index it would never return.
    let index = if RELEASE.try_with(|_| ()).is_ok() {
        let mut pool = lock();
        match pool.free.pop() {
            Some(index) => index,
            None if pool.next < CELLS => {
                pool.next += 1;
                pool.next - 1
            }
            None => SHARED,
        }
    } else {
        SHARED
    };
    INDEX.set(index);
    index
}

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    // Nothing panics while the lock is held; recover rather than poison.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        // The thread's last writes happen before the unlock, and the next
        // owner's first read after its lock: it goes on from their value.
        let index = INDEX.replace(SHARED);
        if index < SHARED {
            lock().free.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counts = PerThread::<2>::default();
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let counts = &counts;
                scope.spawn(move || {
                    for _ in 0..10_000 {
                        counts.add(0);
                    }
                    for _ in 0..t {
                        counts.add(1);
                    }
                });
            }
        });
        assert_eq!(counts.sum(0), 80_000);
        assert_eq!(counts.sum(1), (0..8).sum::<u64>());
    }

    #[test]
    fn more_threads_than_cells_share_one_and_still_add_up() {
        let counts = PerThread::<1>::default();
        let threads = CELLS + 8;
        let ready = std::sync::Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (counts, ready) = (&counts, &ready);
                scope.spawn(move || {
                    counts.add(0);
                    // Every thread holds its index (or the shared one) at once.
                    ready.wait();
                    for _ in 0..1_000 {
                        counts.add(0);
                    }
                });
            }
        });
        assert_eq!(counts.sum(0), threads as u64 * 1_001);
    }

    #[test]
    fn a_thread_keeps_its_index_and_gives_it_back_when_it_exits() {
        // Far more threads, one after the other, than there are cells:
        // without the indices given back, the last ones would share.
        let index_of_a_new_thread = || {
            std::thread::spawn(|| {
                let index = thread_index();
                assert_eq!(thread_index(), index, "the same index on every call");
                index
            })
            .join()
            .expect("thread")
        };
        for _ in 0..4 * CELLS {
            index_of_a_new_thread();
        }
        // Other tests of this process may hold every index for a while
        // (one of them holds more threads than cells at once): a new
        // thread gets one of its own again once they have exited. Without
        // the indices given back, none ever would.
        let own = (0..500).any(|_| {
            let own = index_of_a_new_thread() < SHARED;
            if !own {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            own
        });
        assert!(own, "an exited thread's index is reused");
    }

    #[test]
    fn each_thread_writes_a_line_of_its_own() {
        assert_eq!(std::mem::align_of::<Line<4>>(), 128);
        assert_eq!(std::mem::size_of::<Line<4>>(), 128);
    }
}
