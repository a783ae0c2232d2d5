//! The names of the attributes on the `resilience.*` metrics (see the
//! [crate docs](crate) for the schema) and on the layers' spans, for queries
//! and tests that should not spell them out.
//!
//! ```
//! use throughline_resilience::attribute;
//!
//! assert_eq!(attribute::NAME, "resilience.name");
//! ```

/// The attribute naming a policy, breaker or limiter.
pub const NAME: &str = "resilience.name";
/// The outcome of a call on `resilience.calls`.
pub const OUTCOME: &str = "resilience.outcome";
/// Why an attempt was retried, on `resilience.retry.attempts`.
pub const RETRY_REASON: &str = "resilience.retry.reason";
/// The states of a transition on `resilience.circuit_breaker.transitions`.
pub const FROM_STATE: &str = "resilience.circuit_breaker.from";
/// See [`FROM_STATE`].
pub const TO_STATE: &str = "resilience.circuit_breaker.to";
/// Why a request was shed, on `resilience.shed`.
pub const SHED_REASON: &str = "resilience.shed.reason";
/// The attempt number, from 1, on each `resilience.hedge` span.
pub const HEDGE_ATTEMPT: &str = "resilience.hedge.attempt";
/// On the `resilience.hedge` spans of a call that sent hedges: `true` on the
/// attempt whose answer was the call's, `false` on the ones cancelled.
pub const HEDGE_WINNER: &str = "resilience.hedge.winner";
