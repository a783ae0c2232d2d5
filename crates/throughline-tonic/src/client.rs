//! [`GrpcClientLayer`]: a client span and `rpc.client.call.duration` per
//! call, the context and the deadline sent on.
//!
//! ```
//! use std::time::Duration;
//! use throughline_tonic::GrpcClientLayer;
//! use throughline_tonic_testproto::EchoClient;
//!
//! # #[tokio::main] async fn main() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let service = tower::ServiceBuilder::new()
//!     .layer(GrpcClientLayer::new().timeout(Duration::from_secs(2)))
//!     .service(channel);
//! let client = EchoClient::new(service);
//! # let _ = client;
//! # }
//! ```
//!
//! What a call becomes:
//!
//! 1. a client span (target [`TARGET`]) under the current span, named
//!    `package.Service/Method` and given the request attributes once the
//!    sampler keeps it;
//! 2. its context is written into the metadata; when the span is filtered
//!    out, the current context is, so the trace still reaches the server;
//! 3. the earliest of the layer's timeout, the request's [`Deadline`]
//!    extension, a `grpc-timeout` already set and the
//!    [current deadline](crate::deadline::current) goes out as
//!    `grpc-timeout` (the layer sends it; the server enforces it);
//! 4. the status is read from the response headers or the trailers at the
//!    end of the stream, where the span and the duration end; a stream
//!    dropped early ends `CANCELLED`.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderName, Request, Response};
use opentelemetry::metrics::MeterProvider;
use opentelemetry::{Context as OtelContext, StringValue};
use throughline_core::{Deadline, ResendCount};
use throughline_propagation::Propagator;
use throughline_tower::client::{
    DirectSpans, HeadSampling, Injection, SpanStart, SpanTracerProvider, host_list, start_span,
};
use throughline_tower::semconv::ValueLength;
use throughline_tower::semconv::{Message, Role};
use throughline_tower::server::RequestSpan;
use tower_layer::Layer;
use tower_service::Service;

use crate::call::{self, Call};
use crate::deadline;
use crate::future::ResponseFuture;
use crate::metadata::{Metadata, MetadataCapture};
use crate::metrics::{CallMetrics, scope};
use crate::semconv::RpcStability;

/// The tracing target of the client span, for filters (`RUST_LOG`).
pub const TARGET: &str = "throughline_tonic::client";

#[derive(Clone)]
struct Config {
    injection: Injection,
    stability: RpcStability,
    timeout: Option<Duration>,
    server: Option<(StringValue, Option<u16>)>,
    meter: opentelemetry::metrics::Meter,
    metrics: Arc<CallMetrics>,
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, read when the layer is built.
    value_length: ValueLength,
    /// Hosts that never receive context metadata.
    no_propagation: Option<Arc<HostFilter>>,
    /// The metadata keys recorded on the span; `None` when there are none.
    metadata: Option<Arc<Metadata>>,
    spans: SpanStart,
}

type HostFilter = dyn Fn(&str) -> bool + Send + Sync;

/// A tower [`Layer`] for gRPC clients, around a `tonic::transport::Channel`
/// or any `Service<http::Request<B>>` that sends gRPC. See [the module](self).
#[derive(Clone)]
pub struct GrpcClientLayer {
    config: Arc<Config>,
}

impl GrpcClientLayer {
    /// The defaults: the process-wide propagator, no timeout of its
    /// own (inherited deadlines are still sent), the attribute names of
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, metrics on the global meter provider.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter_with_scope(scope());
        let stability = RpcStability::from_env();
        let metrics = Arc::new(CallMetrics::new(&meter, Role::Client, stability));
        Self {
            config: Arc::new(Config {
                injection: Injection::default(),
                stability,
                timeout: None,
                server: None,
                meter,
                metrics,
                value_length: ValueLength::from_env(),
                no_propagation: None,
                metadata: None,
                spans: SpanStart { head: HeadSampling::ProcessWide, direct: DirectSpans::new(scope()) },
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// As [`with`](Self::with), for a change of the meter or the names the
    /// instruments are built from: they are built again.
    fn with_instruments(self, change: impl FnOnce(&mut Config)) -> Self {
        self.with(|config| {
            change(config);
            config.metrics = Arc::new(CallMetrics::new(&config.meter, Role::Client, config.stability));
        })
    }

    /// Writes the outgoing context with `propagator`.
    pub fn propagator(self, propagator: Propagator) -> Self {
        self.with(|c| c.injection = Injection::Throughline(propagator))
    }

    /// Writes the outgoing context with the global OpenTelemetry propagator.
    pub fn global_propagator(self) -> Self {
        self.with(|c| c.injection = Injection::Global)
    }

    /// Asks this head sampler, rather than the process-wide one, whether a
    /// call is recorded before building its span: an unrecorded call gets
    /// only the span context it propagates (throughline-tower's `HeadSampling`).
    pub fn head_sampling(self, head: HeadSampling) -> Self {
        self.with(|c| c.spans.head = head)
    }

    /// Builds the span of a call the head sampler records with `provider`'s
    /// tracer, directly as an OpenTelemetry span rather than a bridged
    /// `tracing` span (throughline-tower's `DirectSpans`). Under the
    /// process-wide head sampling, the global tracer provider is used
    /// without this.
    pub fn tracer_provider(self, provider: &impl SpanTracerProvider) -> Self {
        self.with(|c| c.spans.direct = c.spans.direct.clone().with_provider(provider))
    }

    /// Gives every call at most `timeout`, sent as `grpc-timeout`; an
    /// inherited deadline that is earlier wins.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.timeout = Some(timeout))
    }

    /// `server.address` and `server.port` of the calls. A tonic client's
    /// requests carry only the path (the channel adds the authority), so
    /// the layer cannot see them: name the server here. A request whose
    /// URI has an authority uses that instead.
    pub fn server_address(self, host: impl Into<String>, port: Option<u16>) -> Self {
        let host = StringValue::from(host.into());
        self.with(|c| c.server = Some((host, port)))
    }

    /// Never sends context metadata to these hosts (the request's authority,
    /// or the one given by [`server_address`](Self::server_address)): third
    /// parties that must not see internal trace ids. A name starting with
    /// `.` matches every subdomain; the others match exactly, ignoring case.
    /// The deadline (`grpc-timeout`) is still sent: it is the protocol's.
    pub fn no_propagation_to<I, H>(self, hosts: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: Into<String>,
    {
        self.no_propagation_when(host_list(hosts))
    }

    /// Never sends context metadata to a host for which `skip` is true.
    pub fn no_propagation_when(self, skip: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.with(|c| c.no_propagation = Some(Arc::new(skip)))
    }

    /// Emits the current names only, or the old ones too, whatever
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` says.
    pub fn semconv_stability(self, stability: RpcStability) -> Self {
        self.with_instruments(|c| c.stability = stability)
    }

    /// Records metrics with `provider` rather than the global one.
    pub fn meter_provider(self, provider: &impl MeterProvider) -> Self {
        self.with_instruments(|c| c.meter = provider.meter_with_scope(scope()))
    }

    /// Records these request metadata keys (HTTP/2 headers) as
    /// `rpc.request.metadata.<key>`, each an array of the key's values, with
    /// the same rules as throughline-tower's `HttpServerLayer::capture_request_headers`:
    /// the names in throughline-tower's
    /// [`SENSITIVE_HEADERS`](throughline_tower::semconv::SENSITIVE_HEADERS) (`authorization`,
    /// `cookie`, API keys and tokens, ...) are never recorded, a value is cut
    /// to `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (4096 characters at most), and
    /// a value that is not visible ASCII is skipped. Under `rpc/dup` the old
    /// name, `rpc.grpc.request.metadata.<key>`, is recorded too. Nothing is
    /// captured by default: metadata can carry what a trace must not.
    /// The metadata read is what the call sends: the caller's, with the
    /// context and `grpc-timeout` the layer adds.
    ///
    /// ```
    /// use http::HeaderName;
    /// use throughline_tonic::GrpcClientLayer;
    /// use throughline_tonic_testproto::EchoClient;
    ///
    /// # #[tokio::main] async fn main() {
    /// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
    /// let layer = GrpcClientLayer::new()
    ///     .capture_request_headers([HeaderName::from_static("x-tenant"), http::header::AUTHORIZATION]);
    /// let client = EchoClient::new(tower::ServiceBuilder::new().layer(layer).service(channel));
    /// # let _ = client;
    /// # }
    /// ```
    pub fn capture_request_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let request = MetadataCapture::new(Message::Request, names);
        self.with(|c| c.metadata = Metadata::changed(c.metadata.take(), |m| m.request = request))
    }

    /// Records these response metadata keys as `rpc.response.metadata.<key>`
    /// (and `rpc.grpc.response.metadata.<key>` under `rpc/dup`), with the
    /// rules of [`capture_request_headers`](Self::capture_request_headers).
    /// They are read from the response headers: the initial metadata, or all
    /// of a trailers-only response (how a handler that fails at once
    /// answers); metadata sent in the trailers after the messages is not read.
    ///
    /// ```
    /// use http::HeaderName;
    /// use throughline_tonic::GrpcClientLayer;
    ///
    /// let layer = GrpcClientLayer::new().capture_response_headers([HeaderName::from_static("x-served-by")]);
    /// # let _ = layer;
    /// ```
    pub fn capture_response_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let response = MetadataCapture::new(Message::Response, names);
        self.with(|c| c.metadata = Metadata::changed(c.metadata.take(), |m| m.response = response))
    }
}

impl Default for GrpcClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClient { inner, config: self.config.clone() }
    }
}

impl fmt::Debug for GrpcClientLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcClientLayer")
            .field("injection", &self.config.injection)
            .field("stability", &self.config.stability)
            .field("timeout", &self.config.timeout)
            .field("metadata", &self.config.metadata)
            .field("spans", &self.config.spans)
            .finish_non_exhaustive()
    }
}

/// The service [`GrpcClientLayer`] wraps around `S`.
#[derive(Clone)]
pub struct GrpcClient<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> GrpcClient<S> {
    throughline_core::inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for GrpcClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcClient").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcClient<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
    ResBody: http_body::Body,
{
    type Response = Response<crate::GrpcBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        // The head sampler decides first; otherwise starting the OpenTelemetry
        // span is where the sampler decides. A span filtered out (globally,
        // or for the OpenTelemetry layer only) has no context of its own:
        // the caller's goes instead.
        let (span, own_context) = start_span(
            &self.config.spans,
            "grpc.client",
            || tracing::info_span!(target: TARGET, "grpc.client", otel.kind = "client"),
        );
        let (traced, current) = match own_context {
            // Built directly, or not recorded: the context is the call.
            Ok(cx) if span.is_disabled() => (RequestSpan::from_context(cx), None),
            Ok(cx) => (RequestSpan::new(span, cx), None),
            // The caller's context goes on, but is not this call's span.
            Err(current) => (RequestSpan::new(span, OtelContext::new()), Some(current)),
        };
        let own = self.config.timeout.map(Deadline::after);
        if let Some(deadline) = Deadline::earliest(own, deadline::inherited(&request)) {
            deadline::insert(request.headers_mut(), deadline);
            request.extensions_mut().insert(deadline);
        }
        let server = match request.uri().authority() {
            Some(authority) => Some((
                StringValue::from(authority.host().to_owned()),
                authority.port_u16().or_else(|| default_port(request.uri().scheme_str())),
            )),
            None => self.config.server.clone(),
        };
        // Sampled out or not, the context goes on, unless the host is one
        // that must not see it: the server continues the trace, and the
        // sampled flag tells it what was decided.
        let host = server.as_ref().map_or("", |(host, _)| host.as_str());
        if !self.config.no_propagation.as_ref().is_some_and(|skip| skip(host)) {
            let cx = current.as_ref().unwrap_or_else(|| traced.context());
            self.config.injection.inject(cx, request.headers_mut());
        }
        let call = Call::start(
            self.config.metrics.clone(),
            traced,
            call::Request {
                path: request.uri().path(),
                headers: request.headers(),
                metadata: self.config.metadata.as_ref(),
                server,
                value_length: self.config.value_length,
                resends: request.extensions().get::<ResendCount>().copied(),
            },
            None,
            started,
        );
        let future = {
            let _entered = call.enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, Some(call))
    }
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    }
}
