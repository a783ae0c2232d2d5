//! The circuit breaker: stop calling a dependency that is failing, give it
//! time, then probe it with a few calls before trusting it again.
//!
//! ```text
//!            failure or slow-call rate ≥ threshold
//!            (after the minimum number of calls)
//!   Closed ─────────────────────────────────────────▶ Open
//!     ▲                                                │ open duration passed
//!     │ probes' failure rate below threshold           ▼ (grows if configured)
//!     └──────────────────────────────────────────── HalfOpen ──▶ Open
//!                                                     probes' failure rate ≥ threshold
//! ```
//!
//! Closed is the hot path and takes no lock and allocates nothing: one atomic
//! load to admit a call, and to record it a slot swap in a ring of outcomes
//! (plus a counter update only when the window's counts change). While open,
//! calls fail at once with a typed [`CircuitOpen`](crate::CircuitOpen) that
//! carries the time until the next probe; over HTTP a server answers 503 with
//! `Retry-After` ([`crate::http_rejection`]).
//!
//! The breaker is also usable without tower:
//!
//! ```
//! use throughline_resilience::circuit_breaker::BreakerConfig;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = BreakerConfig::new("postgres").build()?;
//! let rows = breaker.call(async { Ok::<_, std::io::Error>(3) }).await?;
//! assert_eq!(rows, 3);
//! # Ok(()) }
//! ```

mod breaker;
mod config;
mod keyed;
mod layer;
mod window;

pub use breaker::{Breaker, CallPermit, CircuitState};
pub use config::{BreakerConfig, BreakerConfigError, SlidingWindow};
pub use keyed::{KeyedBreaker, MAX_KEYS};
pub use layer::{ByKey, CircuitBreaker, CircuitBreakerLayer, ResponseFuture, SelectBreaker};
pub use window::WindowSnapshot;
