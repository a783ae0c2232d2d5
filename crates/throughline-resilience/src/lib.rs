//! Retry, circuit breaking, backpressure, deadlines and hedged requests for
//! distributed Rust services: safe by default, lock-free on the fast path,
//! and visible in every trace. One policy serves tower services (clients and
//! servers) and plain async code alike.
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::circuit_breaker::BreakerConfig;
//! use throughline_resilience::retry::RetryConfig;
//! use throughline_resilience::{HttpClassifier, Policy};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let policy = Policy::builder("inventory")
//!     .timeout(Duration::from_secs(2)) // the whole call, retries included
//!     .retry(RetryConfig::new("inventory").max_attempts(3))
//!     .circuit_breaker(BreakerConfig::new("inventory").build()?)
//!     .attempt_timeout(Duration::from_millis(500))
//!     .classifier(HttpClassifier::default()) // 5xx, 429, 408 and errors are failures
//!     .build()?;
//!
//! // Any tower HTTP client: hyper's, tonic's channel, a test double.
//! let mut calls = 0;
//! let mut client = ServiceBuilder::new().layer(policy.layer()).service(service_fn(move |_: http::Request<String>| {
//!     calls += 1;
//!     let status = if calls == 1 { 503 } else { 200 }; // one blip, then fine
//!     async move { Ok::<_, std::io::Error>(http::Response::builder().status(status).body(String::new()).unwrap()) }
//! }));
//!
//! let request = http::Request::get("http://inventory/items/7").body(String::new())?;
//! let response = client.ready().await?.call(request).await?;
//! assert_eq!(response.status(), 200, "the 503 was retried: GET is idempotent");
//! # Ok(()) }
//! ```
//!
//! The same policy runs any async call, a database query say, with
//! [`Policy::call`]: `policy.call(|| async { db.query(..).await }).await`.
//!
//! # The patterns
//!
//! - **[Retry](retry)** with exponential [`Backoff`] and full, equal or
//!   decorrelated [`Jitter`]; `max_attempts`, `max_elapsed` and the request's
//!   [`Deadline`] bound it; a [`RetryBudget`] shared by clones caps retries at
//!   20 % of requests plus 10 per second, so an outage cannot triple the load.
//!   HTTP requests are retried only when safe: idempotent methods or an
//!   `Idempotency-Key` ([`ResilientRequest`]); a `Retry-After` is honoured
//!   up to a cap ([`retry_after`]); non-`Clone` bodies are buffered up to a
//!   limit to be replayed ([`replay_body`]).
//! - **[Circuit breaker](circuit_breaker)** over a count or time sliding
//!   window, with failure-rate and slow-call-rate thresholds, a minimum number
//!   of calls, an open duration that may grow, a limited number of half-open
//!   probes, forced and disabled states, and one breaker per key. Closed, it
//!   takes no lock and does not allocate. Open, it rejects at once with a typed
//!   [`CircuitOpen`] carrying the time until the next probe.
//! - **[Backpressure](limit)**: a concurrency limit that sheds, or lets
//!   calls wait a bounded time in a bounded queue; fixed, AIMD or gradient
//!   limits; sheddable requests shed before critical ones. A shed call is a
//!   typed [`Shed`].
//! - **[Timeouts](timeout) and [deadlines](deadline)**: a per-attempt timeout
//!   and an overall deadline that travels with the request as a [`Deadline`]
//!   extension, so outgoing calls can send what is left of it on.
//! - **[Hedging](hedge)**: when an attempt of a safe call is slow (a fixed
//!   delay, or a percentile of the latency observed), send a copy and take
//!   the first success, cancelling the rest; hedges draw from a budget (10 %
//!   of calls by default) and are not sent while the breaker is open or when
//!   the deadline is nearer than the delay.
//!
//! One [classifier](classify) says what a result means, and retry, the
//! breaker and the adaptive limit all read it: [`HttpClassifier`],
//! [`GrpcClassifier`], [`AnyError`], or any closure.
//!
//! # Composition order
//!
//! A [`Policy`] applies its stages in this order, outermost first,
//! and each position has a reason:
//!
//! | stage | why here |
//! |---|---|
//! | 1. deadline ([`EnforceDeadlineLayer`]) | it bounds everything inside it, backoff waits included; a retry that cannot finish before it is not started |
//! | 2. retry ([`retry::RetryLayer`]) | each attempt goes through the stages below: a retried call is checked by the breaker again and takes a new place in the limit |
//! | 3. circuit breaker ([`circuit_breaker::CircuitBreakerLayer`]) | it sees every attempt, so one call retried three times is three failures; an open breaker's rejection is not retried (it is [`Outcome::Ignored`]), so retry never spins on an open circuit |
//! | 4. concurrency limit ([`limit::ConcurrencyLimitLayer`]) | below the breaker, so a rejected call never takes a place; a shed call does not count as the dependency's failure |
//! | 5. attempt timeout ([`timeout::TimeoutLayer`]) | innermost, so a timed-out attempt is a failure the breaker counts, a retryable one for retry, and an overload signal for the adaptive limit |
//!
//! Layers can also be stacked by hand with `tower::ServiceBuilder` in the same order.
//! On a server, put [`http_rejection::HttpRejectionLayer`] outermost to turn
//! rejections into 503/429/504 responses with `Retry-After`, or, on a gRPC
//! server, [`grpc_rejection::GrpcRejectionLayer`] to answer them trailers-only
//! (`RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `DEADLINE_EXCEEDED`) with
//! `grpc-retry-pushback-ms`.
//!
//! # HTTP and gRPC without depending on a client
//!
//! This crate depends on `http` and `tower`, on no HTTP or gRPC client.
//! Everything an adapter needs is data:
//!
//! - **requests**: [`ResilientRequest`] is implemented for `http::Request<B>`,
//!   which is what hyper, reqwest's tower integration and tonic's channels
//!   carry; the retry attempt number is in the [`ResendCount`] extension for
//!   `http.request.resend_count`;
//! - **deadlines**: the [`Deadline`] extension (throughline-core's);
//!   `throughline-tonic` sends [`Deadline::grpc_timeout`] as `grpc-timeout`,
//!   throughline-tower's HTTP client layer and `throughline-reqwest` send
//!   [`Deadline::to_millis_header`] on throughline-core's `DEADLINE_HEADER`;
//! - **classification**: [`HttpClassifier::classify_status`] and
//!   [`GrpcClassifier::classify_code`] take a status and headers, so an adapter
//!   classifies a `reqwest::Response` or a `tonic::Status` in one line;
//! - **rejections**: [`RejectionStatus::of`] maps a rejection to an HTTP
//!   status, a gRPC code (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//!   `DEADLINE_EXCEEDED`) and a `Retry-After` / `grpc-retry-pushback-ms`.
//!
//! A reqwest-middleware adapter, for instance, is a loop of a few lines
//! around `next.run(request.try_clone()?, extensions)`, calling the breaker's
//! [`Breaker::try_acquire`] and `HttpClassifier::classify_status`.
//!
//! # Observability
//!
//! Every decision shows where the request is:
//!
//! - each attempt is a child span `resilience.attempt` of the call, with
//!   `resilience.attempt`, `resilience.retry.reason` and, for HTTP,
//!   `http.request.resend_count` (first attempts at DEBUG, retries at INFO);
//! - each attempt of a call that may be hedged is a span `resilience.hedge`
//!   with `resilience.hedge.attempt` and, when hedges were sent,
//!   `resilience.hedge.winner`;
//! - breaker transitions are WARN (opened) or INFO events; rejections, shed
//!   requests and retries refused by the budget are INFO events on the
//!   current span, which tracing-opentelemetry turns into span events;
//! - metrics, through the `opentelemetry` API (no-ops until a meter provider
//!   is installed; pass one with each config's `meter_provider`, or
//!   build policies after installing the global provider):
//!
//! | metric | type | attributes | meaning |
//! |---|---|---|---|
//! | `resilience.calls` | counter | `resilience.name`, `resilience.outcome` = `success` \| `failure` \| `rejected` \| `shed` \| `timeout` | calls through a [`Policy`] |
//! | `resilience.retry.attempts` | counter | `resilience.name`, `resilience.retry.reason` | attempts after the first |
//! | `resilience.retry.budget_exhausted` | counter | `resilience.name` | retries refused by the budget |
//! | `resilience.circuit_breaker.state` | gauge | `resilience.name` | 0 closed, 1 half-open, 2 open, 3 forced open, 4 forced closed, 5 disabled |
//! | `resilience.circuit_breaker.transitions` | counter | `resilience.name`, `resilience.circuit_breaker.from`, `resilience.circuit_breaker.to` | state changes |
//! | `resilience.circuit_breaker.rejections` | counter | `resilience.name` | calls rejected by an open breaker |
//! | `resilience.shed` | counter | `resilience.name`, `resilience.shed.reason` | requests shed by a limit |
//! | `resilience.concurrency.limit` | gauge | `resilience.name` | the current concurrency limit |
//! | `resilience.hedge.sent` | counter | `resilience.name` | hedges sent, besides first attempts |
//! | `resilience.hedge.won` | counter | `resilience.name` | hedges whose answer was the call's |
//! | `resilience.hedge.cancelled` | counter | `resilience.name` | attempts cancelled because another settled the call |
//!
//! # Cost
//!
//! A closed breaker admits a call with one atomic load and records it with
//! two uncontended atomic operations; nothing on that path locks or
//! allocates. See `docs/benchmarks.md` in the repository for the figures
//! against tower-resilience and failsafe.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

pub mod attribute;
pub mod backoff;
pub mod budget;
pub mod circuit_breaker;
pub mod classify;
pub mod deadline;
mod error;
pub mod grpc;
pub mod grpc_rejection;
pub mod hedge;
mod http_classify;
pub mod http_rejection;
pub mod limit;
mod policy;
mod rejection;
pub mod replay_body;
mod request;
pub mod retry;
pub mod retry_after;
mod telemetry;
mod time_limit;
pub mod timeout;

pub use backoff::{Backoff, Jitter};
pub use budget::RetryBudget;
pub use circuit_breaker::{Breaker, CircuitState};
pub use classify::{AnyError, BoxError, Classify, Outcome};
pub use deadline::{Deadline, EnforceDeadline, EnforceDeadlineLayer};
pub use error::{CircuitOpen, RejectionStatus, ResilienceError, Shed, ShedReason, TimedOut, TimeoutScope};
pub use grpc::{GrpcClassifier, GrpcCode};
pub use http_classify::HttpClassifier;
pub use policy::{Policy, PolicyBuilder, Resilience, ResilienceLayer, ResponseFuture};
pub use replay_body::{BufferBody, BufferBodyLayer, ReplayBody};
pub use request::{
    Attempt, IDEMPOTENCY_KEY, ReplayableBody, ResendCount, ResilientRequest, is_idempotent_method,
};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
