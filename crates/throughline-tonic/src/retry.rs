//! gRPC retries in the shape of a service config's `retryPolicy` (gRFC A6),
//! on throughline-resilience's retry: its budget, deadline rule, attempt
//! spans and `resilience.*` metrics (feature `resilience`).
//!
//! A call is retried only when all of these hold:
//!
//! - its method (or its service) has a [`MethodRetry`] in the policy;
//! - it failed before the server committed to it: a transport error, or a
//!   trailers-only response (the status in the headers) whose code is one of
//!   the method's `retryable_status_codes`. A status that arrives in trailers,
//!   after response headers, ends the call, as gRFC A6 says;
//! - its request was one message, read whole when the call started: unary
//!   calls are buffered (up to [`GrpcRetryPolicyBuilder::max_buffered_bytes`])
//!   and replayed; a streaming call, whose body would make the call wait for
//!   the application, goes out unbuffered and is never retried;
//! - the server's `grpc-retry-pushback-ms`, when present, is a number of
//!   milliseconds (it replaces the backoff delay); a negative or malformed
//!   value forbids the retry;
//! - the shared retry budget has a retry left, and the next attempt could
//!   still finish before the call's deadline (its `Deadline` extension, its
//!   `grpc-timeout`, or the deadline the task is serving).
//!
//! Put the layer outside [`GrpcClientLayer`](crate::GrpcClientLayer), so that
//! each attempt is a client span; a retry carries `previous-rpc-attempts`
//! (gRFC A72) on its span and `grpc-previous-rpc-attempts` in its metadata.
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::GrpcCode;
//! use throughline_tonic::GrpcClientLayer;
//! use throughline_tonic::retry::{GrpcRetryPolicy, MethodRetry};
//! use throughline_tonic_testproto::EchoClient;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let retries = GrpcRetryPolicy::builder("echo")
//!     .method(
//!         "throughline.test.v1.Echo/Unary",
//!         MethodRetry::new()
//!             .max_attempts(4)
//!             .initial_backoff(Duration::from_millis(50))
//!             .max_backoff(Duration::from_secs(1))
//!             .retryable_status_codes([GrpcCode::Unavailable]),
//!     )
//!     .build()?;
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let service = tower::ServiceBuilder::new()
//!     .layer(retries.layer())
//!     .layer(GrpcClientLayer::new())
//!     .service(channel);
//! let client = EchoClient::new(service);
//! # let _ = client; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use opentelemetry::metrics::MeterProvider;
use pin_project_lite::pin_project;
use throughline_resilience::backoff::BackoffError;
use throughline_resilience::classify::{BoxError, Classify, Failure, Outcome, Reason};
use throughline_resilience::grpc::GrpcClassifier;
use throughline_resilience::retry::{RetryConfig, RetryConfigError, RetryLayer, RetryPolicy};
use throughline_resilience::{Backoff, GrpcCode, Jitter, RetryBudget};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::unary::{Attempts, DEFAULT_MAX_BUFFERED_BYTES, OnceOrRepeated, Sending, UnaryCall};

/// The metadata a retry carries: how many attempts went before (gRFC A6).
pub const PREVIOUS_RPC_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

/// gRFC A6's ceiling on `maxAttempts`: larger values are treated as this.
pub const MAX_ATTEMPTS_CEILING: u32 = 5;

/// One method's (or service's) retry policy, the fields of gRPC's
/// `retryPolicy`. Defaults: 3 attempts, 100 ms initial backoff doubling up to
/// 1 s with full jitter, retrying `UNAVAILABLE`.
#[derive(Clone, Debug)]
pub struct MethodRetry {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    backoff_multiplier: f64,
    retryable: RetryableCodes,
}

impl Default for MethodRetry {
    fn default() -> Self {
        Self::new()
    }
}

impl MethodRetry {
    /// The defaults.
    pub fn new() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            backoff_multiplier: 2.0,
            retryable: RetryableCodes::of([GrpcCode::Unavailable]),
        }
    }

    /// `maxAttempts`: attempts in all, counting the first; at least 2, and
    /// values above [`MAX_ATTEMPTS_CEILING`] count as it.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// `initialBackoff`: the first retry waits a random time up to this.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// `maxBackoff`: no retry waits longer than a random time up to this.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// `backoffMultiplier`: how the bound grows from one retry to the next.
    pub fn backoff_multiplier(mut self, multiplier: f64) -> Self {
        self.backoff_multiplier = multiplier;
        self
    }

    /// `retryableStatusCodes`: the codes a trailers-only response may carry
    /// for the call to be retried.
    pub fn retryable_status_codes(mut self, codes: impl IntoIterator<Item = GrpcCode>) -> Self {
        self.retryable = RetryableCodes::of(codes);
        self
    }
}

/// A [`GrpcRetryPolicy`] outside gRFC A6's ranges.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GrpcRetryConfigError {
    /// `maxAttempts` must allow one retry.
    #[error("{target}: max_attempts must be at least 2, got {attempts}")]
    MaxAttempts {
        /// The method or service.
        target: String,
        /// The value given.
        attempts: u32,
    },
    /// Backoffs must be positive, the initial one at most the maximum.
    #[error("{target}: backoffs must be positive and initial_backoff at most max_backoff")]
    Backoff {
        /// The method or service.
        target: String,
    },
    /// The multiplier must be finite and at least 1.
    #[error("{target}: {source}")]
    Multiplier {
        /// The method or service.
        target: String,
        /// What was wrong with it.
        source: BackoffError,
    },
    /// A policy must name at least one retryable code.
    #[error("{target}: retryable_status_codes is empty")]
    NoCodes {
        /// The method or service.
        target: String,
    },
    /// A method is `package.Service/Method`, a service has no `/`.
    #[error("{target:?} is not a gRPC method (package.Service/Method) or service (package.Service)")]
    Target {
        /// The name given.
        target: String,
    },
}

/// Builds a [`GrpcRetryPolicy`].
#[derive(Debug)]
pub struct GrpcRetryPolicyBuilder {
    entries: Vec<(String, MethodRetry)>,
    /// What every entry's retry shares: name, budget, seed, meter.
    common: RetryConfig,
    max_buffered_bytes: usize,
}

impl GrpcRetryPolicyBuilder {
    /// Retries calls of `method`, written `package.Service/Method`.
    pub fn method(mut self, method: &str, retry: MethodRetry) -> Self {
        self.entries.push((method.trim_start_matches('/').to_owned(), retry));
        self
    }

    /// Retries calls of every method of `service`, written `package.Service`,
    /// that has no policy of its own.
    pub fn service(mut self, service: &str, retry: MethodRetry) -> Self {
        self.entries.push((service.trim_start_matches('/').to_owned(), retry));
        self
    }

    /// The budget every method's retries draw from (default
    /// [`RetryBudget::default`]); share one between policies by cloning it.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.common = self.common.budget(budget);
        self
    }

    /// The largest request buffered for replay (default 64 KiB); a larger
    /// request is sent unbuffered and never retried.
    pub fn max_buffered_bytes(mut self, limit: usize) -> Self {
        self.max_buffered_bytes = limit;
        self
    }

    /// Makes the jitter reproducible (tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.common = self.common.seed(seed);
        self
    }

    /// Where the `resilience.*` metrics are recorded (default: the global meter provider).
    pub fn meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.common = self.common.meter_provider(provider);
        self
    }

    /// The policy, or the first entry outside gRFC A6's ranges.
    pub fn build(self) -> Result<GrpcRetryPolicy, GrpcRetryConfigError> {
        let mut methods = HashMap::new();
        let mut services = HashMap::new();
        for (target, retry) in &self.entries {
            let target = target.clone();
            let policy = self.retry_policy(&target, retry)?;
            match target.split_once('/') {
                Some((service, method))
                    if !service.is_empty() && !method.is_empty() && !method.contains('/') =>
                {
                    methods.insert(target.into_boxed_str(), policy);
                }
                None if !target.is_empty() => {
                    services.insert(target.into_boxed_str(), policy);
                }
                _ => return Err(GrpcRetryConfigError::Target { target }),
            }
        }
        let routes = Routes { methods, services, max_buffered_bytes: self.max_buffered_bytes };
        Ok(GrpcRetryPolicy { routes: Arc::new(routes) })
    }

    fn retry_policy(
        &self,
        target: &str,
        retry: &MethodRetry,
    ) -> Result<RetryPolicy<RetryableCodes>, GrpcRetryConfigError> {
        let target = || target.to_owned();
        if retry.max_attempts < 2 {
            return Err(GrpcRetryConfigError::MaxAttempts { target: target(), attempts: retry.max_attempts });
        }
        if retry.initial_backoff.is_zero() || retry.initial_backoff > retry.max_backoff {
            return Err(GrpcRetryConfigError::Backoff { target: target() });
        }
        if retry.retryable.0 == 0 {
            return Err(GrpcRetryConfigError::NoCodes { target: target() });
        }
        // gRFC A6: attempt n waits a random time up to
        // min(initial * multiplier^(n-1), max).
        let backoff = Backoff::exponential(retry.initial_backoff)
            .multiplier(retry.backoff_multiplier)
            .map_err(|source| GrpcRetryConfigError::Multiplier { target: target(), source })?
            .max_delay(retry.max_backoff)
            .jitter(Jitter::Full);
        let config = self.common.clone().max_attempts(retry.max_attempts.min(MAX_ATTEMPTS_CEILING));
        config.backoff(backoff).classifier(retry.retryable).build().map_err(|RetryConfigError::NoAttempts| {
            GrpcRetryConfigError::MaxAttempts { target: target(), attempts: retry.max_attempts }
        })
    }
}

/// Which methods are retried and how; see the [module docs](self). Clones
/// share the budget.
#[derive(Clone, Debug)]
pub struct GrpcRetryPolicy {
    routes: Arc<Routes>,
}

#[derive(Debug)]
struct Routes {
    methods: HashMap<Box<str>, RetryPolicy<RetryableCodes>>,
    services: HashMap<Box<str>, RetryPolicy<RetryableCodes>>,
    max_buffered_bytes: usize,
}

impl GrpcRetryPolicy {
    /// A policy named `name` (the `resilience.name` attribute on its metrics).
    pub fn builder(name: impl Into<String>) -> GrpcRetryPolicyBuilder {
        GrpcRetryPolicyBuilder {
            entries: Vec::new(),
            common: RetryConfig::new(name),
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }

    /// The policy as a tower layer for a tonic channel.
    pub fn layer(&self) -> GrpcRetryLayer {
        GrpcRetryLayer { policy: self.clone() }
    }

    /// The retry policy of a request path (`/package.Service/Method`).
    fn route(&self, path: &str) -> Option<&RetryPolicy<RetryableCodes>> {
        let method = path.strip_prefix('/')?;
        let routes = &*self.routes;
        routes
            .methods
            .get(method)
            .or_else(|| routes.services.get(method.split_once('/').map_or(method, |(service, _)| service)))
    }
}

/// Retries the calls a [`GrpcRetryPolicy`] names.
#[derive(Clone, Debug)]
pub struct GrpcRetryLayer {
    policy: GrpcRetryPolicy,
}

impl GrpcRetryLayer {
    /// The layer for `policy`.
    pub fn new(policy: GrpcRetryPolicy) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for GrpcRetryLayer {
    type Service = GrpcRetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcRetry { inner, policy: self.policy.clone() }
    }
}

/// The service of [`GrpcRetryLayer`].
#[derive(Clone, Debug)]
pub struct GrpcRetry<S> {
    inner: S,
    policy: GrpcRetryPolicy,
}

impl GrpcRetry<()> {
    /// [`GrpcRetryLayer::new`], tower-http style.
    pub fn layer(policy: GrpcRetryPolicy) -> GrpcRetryLayer {
        GrpcRetryLayer::new(policy)
    }
}

impl<S> GrpcRetry<S> {
    throughline_core::inner_service_accessors!();
}

impl<S, ResBody> Service<Request<Body>> for GrpcRetry<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(policy) = self.policy.route(request.uri().path()) else {
            return ResponseFuture::once(self.inner.call(request));
        };
        let (attempts, call) =
            match Sending::of(&mut self.inner, request, self.policy.routes.max_buffered_bytes) {
                Sending::Attempts(attempts, call) => (attempts, call),
                Sending::Once(request) => return ResponseFuture::once(self.inner.call(request)),
            };
        let future = RetryLayer::new(policy.clone()).layer(attempts).call(call);
        ResponseFuture { kind: OnceOrRepeated::Repeated { future } }
    }
}

pin_project! {
    /// The future of [`GrpcRetry`].
    pub struct ResponseFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        kind: OnceOrRepeated<S::Future, RetryFuture<S>>,
    }
}

type RetryFuture<S> = throughline_resilience::retry::ResponseFuture<
    <S as Service<Request<Body>>>::Future,
    Attempts<S>,
    UnaryCall,
    RetryableCodes,
>;

impl<S: Service<Request<Body>>> ResponseFuture<S> {
    fn once(future: S::Future) -> Self {
        Self { kind: OnceOrRepeated::Once { future } }
    }
}

impl<S, ResBody> Future for ResponseFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().kind.poll(cx)
    }
}

/// Retries the trailers-only responses whose code is in the set; classifies
/// the rest as [`GrpcClassifier`] does, never retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RetryableCodes(u32);

impl RetryableCodes {
    fn of(codes: impl IntoIterator<Item = GrpcCode>) -> Self {
        Self(codes.into_iter().fold(0, |set, code| set | 1 << (code as u32)))
    }

    fn contains(self, code: GrpcCode) -> bool {
        self.0 & 1 << (code as u32) != 0
    }
}

impl<B> Classify<Response<B>> for RetryableCodes {
    fn classify(&self, result: Result<&Response<B>, &BoxError>) -> Outcome {
        let response = match result {
            Err(_) => return Outcome::Failure(Failure::retryable(Reason::Error)),
            Ok(response) => response,
        };
        // No status in the headers: the server committed to the call, and its
        // status comes in the trailers, too late to retry.
        let Some(code) = GrpcCode::from_headers(response.headers()) else { return Outcome::Success };
        GrpcClassifier::classify_code_retrying(code, response.headers(), |code, _| self.contains(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_win_over_their_service_and_unknown_paths_are_not_retried() {
        let policy = GrpcRetryPolicy::builder("t")
            .service("pkg.Inventory", MethodRetry::new())
            .method("pkg.Inventory/Reserve", MethodRetry::new().max_attempts(5))
            .build()
            .unwrap();
        assert_eq!(policy.route("/pkg.Inventory/Reserve").map(RetryPolicy::max_attempts), Some(5));
        assert_eq!(policy.route("/pkg.Inventory/Release").map(RetryPolicy::max_attempts), Some(3));
        assert!(policy.route("/pkg.Payments/Charge").is_none());
        assert!(policy.route("pkg.Inventory/Reserve").is_none(), "a path starts with /");
    }

    #[test]
    fn entries_outside_the_ranges_of_grfc_a6_are_refused() {
        let build = |retry: MethodRetry| GrpcRetryPolicy::builder("t").method("p.S/M", retry).build();
        assert!(matches!(
            build(MethodRetry::new().max_attempts(1)),
            Err(GrpcRetryConfigError::MaxAttempts { .. })
        ));
        assert!(matches!(
            build(MethodRetry::new().initial_backoff(Duration::from_secs(2))),
            Err(GrpcRetryConfigError::Backoff { .. })
        ));
        assert!(matches!(
            build(MethodRetry::new().backoff_multiplier(0.5)),
            Err(GrpcRetryConfigError::Multiplier { .. })
        ));
        assert!(matches!(
            build(MethodRetry::new().retryable_status_codes([])),
            Err(GrpcRetryConfigError::NoCodes { .. })
        ));
        assert!(matches!(
            GrpcRetryPolicy::builder("t").method("a/b/c", MethodRetry::new()).build(),
            Err(GrpcRetryConfigError::Target { .. })
        ));
        let capped =
            GrpcRetryPolicy::builder("t").method("p.S/M", MethodRetry::new().max_attempts(9)).build();
        assert_eq!(
            capped.unwrap().route("/p.S/M").map(RetryPolicy::max_attempts),
            Some(MAX_ATTEMPTS_CEILING)
        );
    }

    fn trailers_only(code: &str, pushback: Option<&str>) -> Response<()> {
        let mut response = Response::builder().header("grpc-status", code);
        if let Some(ms) = pushback {
            response = response.header("grpc-retry-pushback-ms", ms);
        }
        response.body(()).unwrap()
    }

    #[test]
    fn only_listed_codes_in_trailers_only_responses_are_retried() {
        let codes = RetryableCodes::of([GrpcCode::Unavailable, GrpcCode::ResourceExhausted]);
        assert!(codes.classify(Ok(&trailers_only("14", None))).is_retryable());
        assert!(codes.classify(Ok(&trailers_only("8", None))).is_retryable());
        let internal = codes.classify(Ok(&trailers_only("13", None)));
        assert!(internal.is_failure() && !internal.is_retryable(), "counted, not retried");
        assert_eq!(codes.classify(Ok(&trailers_only("0", None))), Outcome::Success);
        assert_eq!(codes.classify(Ok(&Response::new(()))), Outcome::Success, "committed: status in trailers");
    }

    #[test]
    fn pushback_replaces_the_backoff_or_forbids_the_retry() {
        let codes = RetryableCodes::of([GrpcCode::Unavailable]);
        let Outcome::Failure(failure) = codes.classify(Ok(&trailers_only("14", Some("250")))) else {
            panic!()
        };
        assert_eq!((failure.retryable, failure.retry_after), (true, Some(Duration::from_millis(250))));
        for never in ["-1", "soon", ""] {
            assert!(!codes.classify(Ok(&trailers_only("14", Some(never)))).is_retryable(), "{never:?}");
        }
    }
}
