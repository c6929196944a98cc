//! Metrics, recorded through the [`metrics`] facade: the application
//! installs a recorder (a Prometheus exporter, say) and the crate's series
//! appear in it; without one, recording costs next to nothing.
//!
//! Two kinds of recording. What happens off the cache hit path (token
//! requests, retries, 401s, breaker changes) is recorded when it happens
//! ([`names`]). What the cache serves is counted per thread, with no write
//! to memory another thread writes, and handed to the recorder by
//! [`OAuth2Service::publish_metrics`], which the application calls before
//! it renders the metrics ([`cache_counts`], [`per_thread`]): a hit stays
//! as cheap on many threads as on one.
//!
//! [`OAuth2Service::publish_metrics`]: crate::OAuth2Service::publish_metrics

mod cache_counts;
pub(crate) mod names;
mod per_thread;

pub(crate) use cache_counts::CacheCounts;
