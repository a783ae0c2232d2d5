//! [`GrpcServerLayer`]: a server span and `rpc.server.call.duration` per
//! call, in the caller's trace, with the caller's deadline.
//!
//! What a call becomes:
//!
//! 1. `grpc-timeout`, when well-formed, becomes a [`Deadline`] request
//!    extension and the current deadline of the handler
//!    ([the `deadline` module](crate::deadline));
//! 2. the caller's context is read from the metadata (throughline's
//!    `tracecontext,baggage` by default, or the global propagator) and, as
//!    the [trust policy](GrpcServerLayer::trust) decides, becomes the parent
//!    or only a link;
//! 3. a server span (target [`TARGET`]) is started under it; once the
//!    sampler keeps it, it is named `package.Service/Method` and gets the
//!    request attributes ([`semconv`](crate::semconv));
//! 4. the handler runs inside the span;
//! 5. the status is read from the response headers (a trailers-only
//!    response, where a handler that fails at once puts it) or from the
//!    trailers at the end of the stream; the span and the duration end
//!    there, or when the stream is dropped (`CANCELLED`).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderName, Request, Response};
use opentelemetry::StringValue;
use opentelemetry::metrics::MeterProvider;
use throughline_core::Deadline;
use throughline_propagation::Propagator;
use throughline_tower::semconv::ValueLength;
use throughline_tower::semconv::{Message, Role, server_address};
use throughline_tower::server::{
    DirectSpans, Extraction, HeadSampling, Record, RequestSpan, SpanStart, SpanTracerProvider, TrustPolicy,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::call::{self, Call};
use crate::deadline;
use crate::future::ResponseFuture;
use crate::metadata::{Metadata, MetadataCapture};
use crate::metrics::{CallMetrics, scope};
use crate::semconv::RpcStability;

/// The tracing target of the server span, for filters (`RUST_LOG`).
pub const TARGET: &str = "throughline_tonic::server";

type Filter = dyn Fn(&http::request::Parts) -> Record + Send + Sync;

/// What every call needs from the layer, shared by every clone.
#[derive(Clone)]
struct Config {
    extraction: Extraction,
    spans: SpanStart,
    trust: TrustPolicy,
    filter: Option<Arc<Filter>>,
    stability: RpcStability,
    meter: opentelemetry::metrics::Meter,
    metrics: Arc<CallMetrics>,
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, read when the layer is built.
    value_length: ValueLength,
    /// The metadata keys recorded on the span; `None` when there are none.
    metadata: Option<Arc<Metadata>>,
}

/// A tower [`Layer`] for gRPC servers: `Server::builder().layer(GrpcServerLayer::new())`
/// in tonic, or around any `Service<http::Request<B>>` that answers gRPC.
/// See [the module](self).
#[derive(Clone)]
pub struct GrpcServerLayer {
    config: Arc<Config>,
}

impl GrpcServerLayer {
    /// The defaults: the process-wide propagator and head sampler, the attribute
    /// names of `OTEL_SEMCONV_STABILITY_OPT_IN`, metrics on the global meter
    /// provider.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter_with_scope(scope());
        let stability = RpcStability::from_env();
        let metrics = Arc::new(CallMetrics::new(&meter, Role::Server, stability));
        Self {
            config: Arc::new(Config {
                extraction: Extraction::default(),
                spans: SpanStart { head: HeadSampling::default(), direct: DirectSpans::new(scope()) },
                trust: TrustPolicy::default(),
                filter: None,
                stability,
                meter,
                metrics,
                value_length: ValueLength::from_env(),
                metadata: None,
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
            config.metrics = Arc::new(CallMetrics::new(&config.meter, Role::Server, config.stability));
        })
    }

    /// Reads the incoming context with `propagator`.
    pub fn propagator(self, propagator: Propagator) -> Self {
        self.with(|c| c.extraction = Extraction::Throughline(propagator))
    }

    /// Reads the incoming context with the global OpenTelemetry propagator.
    pub fn global_propagator(self) -> Self {
        self.with(|c| c.extraction = Extraction::Global)
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

    /// Decides per call whether the caller's context is trusted: a trusted
    /// caller's span is the parent of the server span, and its baggage is
    /// kept; a public caller's span is only a link, from a new trace, and
    /// its sampled flag and baggage are not used. Every caller is trusted by
    /// default. throughline-tower's `TrustPolicy::trusted_peers` reads the
    /// peer address tonic's transport server records (its `TcpConnectInfo`,
    /// with the default feature `connect-info`); behind TLS or another
    /// server, insert the peer as a `SocketAddr` extension, or decide with
    /// a predicate.
    pub fn trust(self, trust: TrustPolicy) -> Self {
        self.with(|c| c.trust = trust)
    }

    /// Chooses per call whether to trace and whether to measure it, as
    /// throughline-tower's `HttpServerLayer::filter` does: health checks and
    /// reflection, say. A call recorded as `Record::NOTHING` passes through
    /// untouched (its `Deadline` extension is still set).
    pub fn filter(self, filter: impl Fn(&http::request::Parts) -> Record + Send + Sync + 'static) -> Self {
        self.with(|c| c.filter = Some(Arc::new(filter)))
    }

    /// Emits the current names only, or the old ones too, whatever
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` says.
    pub fn semconv_stability(self, stability: RpcStability) -> Self {
        self.with_instruments(|c| c.stability = stability)
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
    ///
    /// ```
    /// use http::HeaderName;
    /// use throughline_tonic::GrpcServerLayer;
    ///
    /// // `x-tenant: acme` becomes `rpc.request.metadata.x-tenant = ["acme"]`;
    /// // `authorization` is dropped from the list.
    /// let layer = GrpcServerLayer::new()
    ///     .capture_request_headers([HeaderName::from_static("x-tenant"), http::header::AUTHORIZATION]);
    /// let server = tonic::transport::Server::builder().layer(layer);
    /// # let _ = server;
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
    /// use throughline_tonic::GrpcServerLayer;
    ///
    /// let layer = GrpcServerLayer::new().capture_response_headers([HeaderName::from_static("x-served-by")]);
    /// let server = tonic::transport::Server::builder().layer(layer);
    /// # let _ = server;
    /// ```
    pub fn capture_response_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let response = MetadataCapture::new(Message::Response, names);
        self.with(|c| c.metadata = Metadata::changed(c.metadata.take(), |m| m.response = response))
    }

    /// Records metrics with `provider` rather than the global one.
    pub fn meter_provider(self, provider: &impl MeterProvider) -> Self {
        self.with_instruments(|c| c.meter = provider.meter_with_scope(scope()))
    }
}

impl Default for GrpcServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServer { inner, config: self.config.clone() }
    }
}

impl fmt::Debug for GrpcServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcServerLayer")
            .field("extraction", &self.config.extraction)
            .field("spans", &self.config.spans)
            .field("filter", &self.config.filter.as_ref().map(|_| ".."))
            .field("trust", &self.config.trust)
            .field("stability", &self.config.stability)
            .field("metadata", &self.config.metadata)
            .finish_non_exhaustive()
    }
}

/// The service [`GrpcServerLayer`] wraps around `S`.
#[derive(Clone)]
pub struct GrpcServer<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> GrpcServer<S> {
    throughline_core::inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for GrpcServer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcServer").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcServer<S>
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

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // Read next to the span's own start, which tracing-opentelemetry stamps.
        let started = Instant::now();
        let (mut parts, body) = request.into_parts();
        #[cfg(feature = "connect-info")]
        peer_from_connect_info(&mut parts.extensions);
        let deadline = deadline::from_headers(&parts.headers);
        if let Some(deadline) = deadline {
            parts.extensions.insert::<Deadline>(deadline);
        }
        let record = self.config.filter.as_ref().map_or(Record::EVERYTHING, |filter| filter(&parts));
        if record == Record::NOTHING {
            return ResponseFuture::new(self.inner.call(Request::from_parts(parts, body)), None);
        }
        let traced = if record.trace {
            // A public caller's context is only a link, from a fresh root.
            let incoming = self.config.extraction.incoming(&parts.headers, self.config.trust.decide(&parts));
            // The head sampler decides first; else the SDK's, as the span starts.
            incoming.start(
                &self.config.spans,
                "grpc.server",
                || tracing::info_span!(target: TARGET, "grpc.server", otel.kind = "server"),
            )
        } else {
            RequestSpan::new(tracing::Span::none(), opentelemetry::Context::new())
        };
        let recording = traced.is_recording();
        // The server's address is a span attribute only: built when it records.
        let server = recording
            .then(|| server_address(&parts))
            .flatten()
            .map(|(host, port)| (StringValue::from(host.to_owned()), port));
        let call = Call::start(
            self.config.metrics.clone(),
            traced,
            call::Request {
                path: parts.uri.path(),
                headers: &parts.headers,
                metadata: self.config.metadata.as_ref(),
                server,
                value_length: self.config.value_length,
                resends: None,
            },
            deadline,
            started,
        );
        let call = if record.metrics { call } else { call.unmeasured() };
        // What the layers below do in `call` (a limiter's admission, say)
        // happens inside the call's span and deadline, as their futures will.
        let future = {
            let _entered = call.enter();
            let inner = &mut self.inner;
            deadline::sync_scope(call.deadline(), || inner.call(Request::from_parts(parts, body)))
        };
        ResponseFuture::new(future, Some(call))
    }
}

/// Makes the peer address of tonic's transport server a `SocketAddr`
/// extension, where throughline-tower's trust policy reads it.
#[cfg(feature = "connect-info")]
fn peer_from_connect_info(extensions: &mut http::Extensions) {
    use tonic::transport::server::TcpConnectInfo;
    if extensions.get::<std::net::SocketAddr>().is_none()
        && let Some(peer) = extensions.get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr)
    {
        extensions.insert(peer);
    }
}
