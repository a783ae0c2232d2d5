//! Hedged requests: when an attempt is slow, send a copy of the request and
//! take whichever answer comes first. A slow replica then stops setting the
//! tail latency of every caller (gRPC's `hedgingPolicy`, Envoy's
//! hedge-on-per-try-timeout, Polly's hedging strategy).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use throughline_resilience::hedge::{Hedge, HedgeConfig};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let policy = HedgeConfig::new("inventory").delay(Duration::from_millis(50)).build()?;
//!
//! // The first replica asked takes a second; the next one answers in 10 ms.
//! let calls = Arc::new(AtomicU32::new(0));
//! let mut client = ServiceBuilder::new().layer(Hedge::layer(policy)).service(service_fn(
//!     move |_: http::Request<String>| {
//!         let replica = calls.fetch_add(1, Ordering::Relaxed) + 1;
//!         let latency = if replica == 1 { 1000 } else { 10 };
//!         async move {
//!             tokio::time::sleep(Duration::from_millis(latency)).await;
//!             Ok::<_, std::io::Error>(http::Response::new(format!("replica {replica}")))
//!         }
//!     },
//! ));
//!
//! let started = tokio::time::Instant::now();
//! let request = http::Request::get("http://inventory/items/7").body(String::new())?;
//! let response = client.ready().await?.call(request).await?;
//! assert_eq!(response.body(), "replica 2", "the hedge, sent after 50 ms, answered first");
//! assert_eq!(started.elapsed(), Duration::from_millis(60));
//! # Ok(()) }
//! ```
//!
//! # When a hedge is sent
//!
//! A call may be hedged only if its request is safe to send twice and can be
//! copied: [`SafeToHedge`] says which requests are safe ([`Idempotent`] by
//! default: idempotent HTTP methods or an `Idempotency-Key`, as for retry;
//! every gRPC call is a `POST`, so mark the safe methods with [`SafeMethods`]
//! or a closure), and [`ResilientRequest::try_clone`] must give a copy (a
//! `Clone` body, or a [`ReplayBody`](crate::ReplayBody)).
//!
//! Hedge `k` (from 1 to `max_hedges`, default 1) is due `k × delay` after the
//! call started, if the call has not finished by then. The delay is fixed
//! ([`HedgeConfig::delay`]) or a percentile of the latency this policy has
//! observed ([`HedgeConfig::percentile_delay`], the default: p95 of the last
//! 256 successful attempts, each measured from when it was sent, once 50 are
//! in; 100 ms until then). A due hedge is sent only if, at that moment:
//!
//! 1. the [`Breaker`] given with [`HedgeConfig::circuit_breaker`], if any, is
//!    closed (or forced closed, or disabled): an open or half-open dependency
//!    gets no extra load;
//! 2. the request's [`Deadline`], if any, leaves at least the delay: a hedge
//!    gets at least as long as the first attempt had before it was hedged;
//! 3. the budget has a hedge left: every call deposits, every hedge withdraws
//!    ([`RetryBudget`]'s windowed design; the default allows hedges of 10 %
//!    of calls plus 1 per second, over 10 s).
//!
//! A hedge that is not sent for one of these reasons ends the hedging of that
//! call: the later ones would find the same breaker, less time and the same
//! budget. Hedges go through a clone of the inner service, after `poll_ready`.
//!
//! # Which answer wins
//!
//! The first attempt whose result the classifier calls a **success** wins:
//! the call returns it and drops every other attempt in flight (their
//! futures are dropped, which cancels them).
//!
//! A **retryable failure** (and a local rejection, [`Outcome::Ignored`]) does
//! not end the call while another attempt is in flight: it is kept, and the
//! call waits for the others (and still sends the hedges that come due). If
//! no attempt is in flight when one fails, the call ends with that failure:
//! hedging never sends a copy *because* an attempt failed; that is what
//! [`retry`](crate::retry) is for. When every attempt fails, the call returns
//! the last failure.
//!
//! A **permanent failure** ends the call at once, cancelling the rest, since
//! any copy would fail the same way.
//!
//! # Where it goes
//!
//! Inside retry and outside the circuit breaker, the limit and the attempt
//! timeout: each hedge is an attempt the breaker counts, takes a place in the
//! limit and has its own timeout, and retry sees one result per hedged call.
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreakerLayer};
//! use throughline_resilience::hedge::{Hedge, HedgeConfig};
//! use throughline_resilience::retry::{Retry, RetryConfig};
//! use throughline_resilience::timeout::TimeoutLayer;
//! use throughline_resilience::{EnforceDeadlineLayer, HttpClassifier};
//! use tower::{ServiceBuilder, service_fn};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = BreakerConfig::new("inventory").build()?;
//! let hedge = HedgeConfig::new("inventory")
//!     .percentile_delay(0.95, Duration::from_millis(80))
//!     .circuit_breaker(breaker.clone())
//!     .classifier(HttpClassifier::default())
//!     .build()?;
//! let retry = RetryConfig::new("inventory").classifier(HttpClassifier::default()).build()?;
//! let client = ServiceBuilder::new()
//!     .layer(EnforceDeadlineLayer::new(Duration::from_secs(2)))
//!     .layer(Retry::layer(retry))
//!     .layer(Hedge::layer(hedge))
//!     .layer(CircuitBreakerLayer::new(breaker, HttpClassifier::default()))
//!     .layer(TimeoutLayer::new(Duration::from_millis(500)))
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::io::Error>(http::Response::new(String::new()))
//!     }));
//! # let _ = client; Ok(()) }
//! ```
//!
//! # What it shows
//!
//! Each attempt of a call that may be hedged runs in a span
//! `resilience.hedge` with `resilience.hedge.attempt` (1 for the first, at
//! DEBUG; hedges at INFO). Hedge `k` also carries `http.request.resend_count
//! = k` for HTTP, and its request the [`ResendCount`](crate::ResendCount) `k`
//! for the client span (under retry too: [`ResilientRequest`] has no getter
//! for the count a retry attempt was given). When more than one attempt was
//! sent, the one that won carries `resilience.hedge.winner = true` and the
//! cancelled ones `false`. The counters `resilience.hedge.sent`,
//! `resilience.hedge.won` (hedges, not first attempts, that won) and
//! `resilience.hedge.cancelled` (attempts dropped because another settled
//! the call) carry `resilience.name`; a hedge not sent is a DEBUG event (an
//! INFO one for an exhausted budget).

mod latency;
mod service;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider};

use crate::budget::RetryBudget;
use crate::circuit_breaker::Breaker;
use crate::classify::AnyError;
#[cfg(doc)]
use crate::classify::Outcome;
use crate::deadline::Deadline;
use crate::request::ResilientRequest;
use crate::telemetry::{Telemetry, default_meter};
use latency::LatencyEstimator;
pub use latency::SAMPLES;
pub use service::{Hedge, HedgeLayer, ResponseFuture};

/// The most hedges a call may send, besides its first attempt.
pub const MAX_HEDGES: u32 = 8;

/// A hedging configuration outside its range.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HedgeConfigError {
    /// `max_hedges` must be 1 to [`MAX_HEDGES`].
    #[error("max_hedges must be 1 to {MAX_HEDGES}, got {0}")]
    MaxHedges(u32),
    /// The percentile must be a fraction in (0, 1].
    #[error("the hedge delay percentile must be in (0, 1], got {0}")]
    Percentile(f64),
    /// The minimum number of samples must be 1 to [`SAMPLES`].
    #[error("min_samples must be 1 to {SAMPLES}, got {0}")]
    MinSamples(u32),
}

/// Which requests are safe to send twice; see the [module docs](self).
///
/// Implemented by [`Idempotent`] (the default), [`SafeMethods`] and any
/// `Fn(&Req) -> bool`, and in a few lines for a request type of your own:
///
/// ```
/// use throughline_resilience::hedge::SafeToHedge;
///
/// /// A read-only query is safe to run twice; a write is not.
/// struct ReadOnly;
///
/// impl SafeToHedge<String> for ReadOnly {
///     fn is_safe(&self, sql: &String) -> bool {
///         sql.trim_start().to_ascii_uppercase().starts_with("SELECT")
///     }
/// }
///
/// assert!(ReadOnly.is_safe(&"select * from stock".to_owned()));
/// assert!(!ReadOnly.is_safe(&"UPDATE stock SET n = 0".to_owned()));
/// ```
pub trait SafeToHedge<Req>: Send + Sync + 'static {
    /// Whether `request` may be sent more than once.
    fn is_safe(&self, request: &Req) -> bool;
}

impl<Req, F> SafeToHedge<Req> for F
where
    F: Fn(&Req) -> bool + Send + Sync + 'static,
{
    fn is_safe(&self, request: &Req) -> bool {
        self(request)
    }
}

/// Requests that say they are idempotent ([`ResilientRequest::is_idempotent`]):
/// for HTTP, an idempotent method or an `Idempotency-Key`.
///
/// ```
/// use throughline_resilience::hedge::{Idempotent, SafeToHedge};
///
/// let get = http::Request::get("http://inventory/items/7").body(()).unwrap();
/// let post = http::Request::post("http://payments/charges").body(()).unwrap();
/// assert!(Idempotent.is_safe(&get));
/// assert!(!Idempotent.is_safe(&post), "a POST is hedged only when marked safe");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Idempotent;

impl<Req: ResilientRequest> SafeToHedge<Req> for Idempotent {
    fn is_safe(&self, request: &Req) -> bool {
        request.is_idempotent()
    }
}

/// Idempotent requests, and the gRPC methods (or HTTP paths) you mark safe:
/// a path `/package.Service/Method` marks one method, a path ending in `/`
/// (`/package.Service/`) every method of a service.
///
/// ```
/// use throughline_resilience::hedge::{SafeMethods, SafeToHedge};
///
/// let safe = SafeMethods::new(["/inventory.v1.Inventory/GetStock", "/catalog.v1.Catalog/"]);
/// let call = |path: &str| http::Request::post(path).body(()).unwrap();
/// assert!(safe.is_safe(&call("/inventory.v1.Inventory/GetStock")));
/// assert!(safe.is_safe(&call("/catalog.v1.Catalog/Describe")));
/// assert!(!safe.is_safe(&call("/inventory.v1.Inventory/Reserve")), "not marked: never hedged");
/// ```
#[derive(Clone, Debug)]
pub struct SafeMethods {
    paths: Arc<[Box<str>]>,
}

impl SafeMethods {
    /// The methods (or services, ending in `/`) marked safe.
    pub fn new<I>(paths: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self { paths: paths.into_iter().map(|path| path.into().into_boxed_str()).collect() }
    }

    /// Whether `path` is marked safe.
    pub fn contains(&self, path: &str) -> bool {
        self.paths.iter().any(
            |safe| {
                if safe.ends_with('/') { path.starts_with(&**safe) } else { path == &**safe }
            },
        )
    }
}

impl<B> SafeToHedge<http::Request<B>> for SafeMethods
where
    http::Request<B>: ResilientRequest,
{
    fn is_safe(&self, request: &http::Request<B>) -> bool {
        request.is_idempotent() || self.contains(request.uri().path())
    }
}

/// How long a call waits before its first hedge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Delay {
    Fixed(Duration),
    Percentile { percentile: f64, fallback: Duration },
}

/// How a [`HedgePolicy`] decides; see the [module docs](self). Defaults: one
/// hedge after the p95 of the observed latency (100 ms until 50 attempts
/// are in), a budget of 10 % of calls plus 1 hedge per second over 10 s, no
/// breaker, classifier [`AnyError`], requests safe when [`Idempotent`].
///
/// ```
/// use std::time::Duration;
/// use throughline_resilience::hedge::{HedgeConfig, SafeMethods};
/// use throughline_resilience::{GrpcClassifier, RetryBudget};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // gRPC: two hedges at most, 20 ms apart, for the one read marked safe, within 5 % extra calls.
/// let policy = HedgeConfig::new("inventory")
///     .delay(Duration::from_millis(20))
///     .max_hedges(2)
///     .budget(RetryBudget::new(0.05, 1)?)
///     .safe_to_hedge(SafeMethods::new(["/inventory.v1.Inventory/GetStock"]))
///     .classifier(GrpcClassifier::default())
///     .build()?;
/// assert_eq!((policy.max_hedges(), policy.delay()), (2, Duration::from_millis(20)));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HedgeConfig<C = AnyError, P = Idempotent> {
    name: String,
    delay: Delay,
    min_samples: u32,
    max_hedges: u32,
    budget: Option<RetryBudget>,
    breaker: Option<Breaker>,
    classifier: C,
    safe: P,
    meter: Option<Meter>,
}

impl HedgeConfig {
    /// The defaults, for a policy named `name` (the `resilience.name` attribute).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            delay: Delay::Percentile { percentile: 0.95, fallback: Duration::from_millis(100) },
            min_samples: 50,
            max_hedges: 1,
            budget: Some(default_budget()),
            breaker: None,
            classifier: AnyError,
            safe: Idempotent,
            meter: None,
        }
    }
}

/// 10 % of calls plus 1 hedge per second, over 10 s.
fn default_budget() -> RetryBudget {
    RetryBudget::new(0.1, 1).unwrap_or_else(|_| unreachable!("valid defaults"))
}

impl<C, P> HedgeConfig<C, P> {
    /// Hedges are due `delay` after the call started, then every `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Delay::Fixed(delay);
        self
    }

    /// Hedges are due after the `percentile` (0.95 for p95) of the latency
    /// of this policy's recent successful attempts; until `min_samples` of
    /// them are in, after `fallback`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use throughline_resilience::hedge::HedgeConfig;
    ///
    /// # fn main() -> Result<(), throughline_resilience::hedge::HedgeConfigError> {
    /// let policy = HedgeConfig::new("inventory")
    ///     .percentile_delay(0.9, Duration::from_millis(40))
    ///     .min_samples(100)
    ///     .build()?;
    /// assert_eq!(policy.delay(), Duration::from_millis(40), "no samples yet");
    /// # Ok(()) }
    /// ```
    pub fn percentile_delay(mut self, percentile: f64, fallback: Duration) -> Self {
        self.delay = Delay::Percentile { percentile, fallback };
        self
    }

    /// How many latencies a percentile delay waits for (1 to [`SAMPLES`],
    /// default 50) before it replaces the fallback.
    pub fn min_samples(mut self, samples: u32) -> Self {
        self.min_samples = samples;
        self
    }

    /// Hedges a call may send besides its first attempt (1 to [`MAX_HEDGES`], default 1).
    pub fn max_hedges(mut self, hedges: u32) -> Self {
        self.max_hedges = hedges;
        self
    }

    /// The budget hedges draw from; clones of one budget share it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Hedges are limited by `max_hedges` only. Not recommended: without a
    /// budget, a slow dependency gets `1 + max_hedges` times the load.
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// No hedge is sent unless this breaker is closed: clone in the breaker
    /// that guards the same dependency.
    pub fn circuit_breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Where the policy's metrics are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(crate::telemetry::meter_of(provider));
        self
    }

    /// What a result means: which attempt wins, which failure waits for the others.
    pub fn classifier<C2>(self, classifier: C2) -> HedgeConfig<C2, P> {
        self.retyped(|_, safe| (classifier, safe))
    }

    /// Which requests may be hedged, in place of [`Idempotent`]: a
    /// [`SafeMethods`] for gRPC, or any `Fn(&Req) -> bool`.
    ///
    /// ```
    /// use throughline_resilience::hedge::HedgeConfig;
    ///
    /// # fn main() -> Result<(), throughline_resilience::hedge::HedgeConfigError> {
    /// let policy = HedgeConfig::new("search")
    ///     .safe_to_hedge(|request: &http::Request<String>| request.uri().path().starts_with("/search"))
    ///     .build()?;
    /// # let _ = policy; Ok(()) }
    /// ```
    pub fn safe_to_hedge<P2>(self, safe: P2) -> HedgeConfig<C, P2> {
        self.retyped(|classifier, _| (classifier, safe))
    }

    /// The same settings with the classifier and safety rule `change` returns.
    fn retyped<C2, P2>(self, change: impl FnOnce(C, P) -> (C2, P2)) -> HedgeConfig<C2, P2> {
        let (classifier, safe) = change(self.classifier, self.safe);
        HedgeConfig {
            name: self.name,
            delay: self.delay,
            min_samples: self.min_samples,
            max_hedges: self.max_hedges,
            budget: self.budget,
            breaker: self.breaker,
            classifier,
            safe,
            meter: self.meter,
        }
    }

    /// Checks the configuration and builds the policy.
    pub fn build(self) -> Result<HedgePolicy<C, P>, HedgeConfigError> {
        if !(1..=MAX_HEDGES).contains(&self.max_hedges) {
            return Err(HedgeConfigError::MaxHedges(self.max_hedges));
        }
        if !(1..=SAMPLES as u32).contains(&self.min_samples) {
            return Err(HedgeConfigError::MinSamples(self.min_samples));
        }
        let (fallback, estimator) = match self.delay {
            Delay::Fixed(delay) => (delay, None),
            Delay::Percentile { percentile, fallback } => {
                // Written to reject NaN.
                if !(percentile > 0.0 && percentile <= 1.0) {
                    return Err(HedgeConfigError::Percentile(percentile));
                }
                (fallback, Some(LatencyEstimator::new(percentile, self.min_samples)))
            }
        };
        let telemetry = Telemetry::new(&self.name, &self.meter.unwrap_or_else(default_meter));
        Ok(HedgePolicy {
            shared: Arc::new(Shared {
                fallback,
                estimator,
                max_hedges: self.max_hedges,
                budget: self.budget,
                breaker: self.breaker,
                classifier: self.classifier,
                safe: self.safe,
                telemetry,
            }),
        })
    }
}

/// A built hedging policy. Clones share its budget and its latency estimate:
/// build one per kind of call (one gRPC method, one endpoint), whose
/// latencies belong together, and clone it into every client of it.
///
/// ```
/// use std::time::Duration;
/// use throughline_resilience::hedge::{Hedge, HedgeConfig};
/// use tower::{Layer, service_fn};
///
/// # fn main() -> Result<(), throughline_resilience::hedge::HedgeConfigError> {
/// let policy = HedgeConfig::new("inventory.get-stock").build()?;
/// let replica = |name: &'static str| {
///     service_fn(move |_: http::Request<String>| async move {
///         Ok::<_, std::io::Error>(http::Response::new(name))
///     })
/// };
/// // Two clients, one policy: one budget, one latency estimate.
/// let east = Hedge::layer(policy.clone()).layer(replica("east"));
/// let west = Hedge::layer(policy.clone()).layer(replica("west"));
/// assert_eq!(policy.delay(), Duration::from_millis(100), "no latency observed yet: the fallback");
/// # let _ = (east, west); Ok(()) }
/// ```
#[derive(Debug)]
pub struct HedgePolicy<C = AnyError, P = Idempotent> {
    shared: Arc<Shared<C, P>>,
}

impl<C, P> Clone for HedgePolicy<C, P> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

#[derive(Debug)]
struct Shared<C, P> {
    fallback: Duration,
    estimator: Option<LatencyEstimator>,
    max_hedges: u32,
    budget: Option<RetryBudget>,
    breaker: Option<Breaker>,
    classifier: C,
    safe: P,
    telemetry: Telemetry,
}

impl<C, P> HedgePolicy<C, P> {
    /// The delay before the first hedge of a call starting now: the fixed
    /// delay, or the percentile of the latencies observed (the fallback
    /// until enough are in).
    pub fn delay(&self) -> Duration {
        self.shared.delay()
    }

    /// How many attempt latencies a percentile delay has observed.
    pub fn samples(&self) -> u64 {
        self.shared.estimator.as_ref().map_or(0, LatencyEstimator::recorded)
    }

    /// The most hedges a call sends besides its first attempt.
    pub fn max_hedges(&self) -> u32 {
        self.shared.max_hedges
    }

    /// The budget hedges draw from, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.shared.budget.as_ref()
    }
}

impl<C, P> Shared<C, P> {
    #[inline]
    fn delay(&self) -> Duration {
        self.estimator.as_ref().and_then(LatencyEstimator::estimate).unwrap_or(self.fallback)
    }

    /// Whether a hedge due now may go: breaker, deadline, then budget (last,
    /// so that a hedge refused for another reason spends nothing).
    fn may_send(&self, deadline: Option<Deadline>, delay: Duration) -> bool {
        let name = self.telemetry.name();
        if let Some(breaker) = &self.breaker {
            use crate::circuit_breaker::CircuitState::{Closed, Disabled, ForcedClosed};
            let state = breaker.state();
            if !matches!(state, Closed | ForcedClosed | Disabled) {
                tracing::debug!(target: "throughline_resilience::hedge", policy = %name, state = state.as_str(), "hedge not sent: circuit breaker not closed");
                return false;
            }
        }
        if let Some(deadline) = deadline
            && deadline.remaining() < delay
        {
            tracing::debug!(target: "throughline_resilience::hedge", policy = %name, remaining = ?deadline.remaining(), ?delay, "hedge not sent: the deadline is nearer than the hedge delay");
            return false;
        }
        if let Some(budget) = &self.budget
            && !budget.try_withdraw()
        {
            tracing::info!(target: "throughline_resilience::hedge", policy = %name, "hedge not sent: hedge budget exhausted");
            return false;
        }
        true
    }
}
