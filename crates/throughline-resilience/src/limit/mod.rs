//! Backpressure: a concurrency limit that sheds what it cannot serve, or lets
//! it wait a bounded time in a bounded queue; adaptive limits that find what a
//! dependency can take; priorities so that sheddable requests go first.
//!
//! A server that queues without bound under overload answers everything late;
//! one that sheds answers most requests on time and the rest at once with a
//! 503 or 429 and `Retry-After` ([`crate::http_rejection`]), or
//! `RESOURCE_EXHAUSTED` over gRPC ([`crate::RejectionStatus`]).
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::limit::{Aimd, LimiterConfig, LimitAlgorithm, Priority};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limit = LimiterConfig::new("search", LimitAlgorithm::Aimd(Aimd::default()))
//!     .queue(32, Duration::from_millis(50)) // critical calls wait up to 50 ms
//!     .build()?;
//! let permit = limit.acquire(Priority::Critical).await?;
//! assert_eq!(limit.in_flight(), 1);
//! drop(permit);
//! # Ok(()) }
//! ```
//!
//! The current limit is the `resilience.concurrency.limit` gauge; each shed
//! request counts on `resilience.shed` with its reason.

mod algorithm;
mod layer;
mod limiter;

pub use algorithm::{Aimd, Gradient, LimitAlgorithm};
pub use layer::{AllCritical, ConcurrencyLimit, ConcurrencyLimitLayer, PriorityOf, ResponseFuture};
pub use limiter::{LimitPermit, Limiter, LimiterConfig, LimiterConfigError, Priority};
