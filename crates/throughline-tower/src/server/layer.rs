//! [`HttpServerLayer`]: the configuration, with builder methods.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use http::request::Parts;
use opentelemetry::metrics::{Meter, MeterProvider};
use throughline_propagation::Propagator;
use tower_layer::Layer;

use super::deadline::Deadlines;
use super::extract::Extraction;
use super::filter::Record;
use super::metrics::ServerMetrics;
use super::route::RouteExtractor;
use super::service::HttpServer;
use super::trust::TrustPolicy;
use crate::direct_spans::{DirectSpans, SpanTracerProvider};
use crate::head_sampling::HeadSampling;
use crate::scope;
use crate::semconv::{HeaderCapture, Message, QueryRedaction, SemconvStability};
use crate::span_start::SpanStart;

type Filter = dyn Fn(&Parts) -> Record + Send + Sync;

/// Everything a request needs from the layer, shared by every clone.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) extraction: Extraction,
    pub(crate) trust: TrustPolicy,
    pub(crate) route: RouteExtractor,
    pub(crate) filter: Option<Arc<Filter>>,
    pub(crate) stability: SemconvStability,
    pub(crate) redaction: QueryRedaction,
    pub(crate) request_headers: HeaderCapture,
    pub(crate) response_headers: HeaderCapture,
    meter: Meter,
    body_sizes: bool,
    pub(crate) metrics: ServerMetrics,
    pub(crate) catch_panic: bool,
    pub(crate) trace_response_header: bool,
    pub(crate) deadlines: Deadlines,
    pub(crate) spans: SpanStart,
}

/// A tower [`Layer`] that makes every request a server span in the caller's
/// trace and records the HTTP server metrics. See [the module](crate::server).
#[derive(Clone)]
pub struct HttpServerLayer {
    config: Arc<Config>,
}

impl HttpServerLayer {
    /// The defaults: the process-wide propagator and head sampler, every caller
    /// trusted, the route from axum's `MatchedPath` (with the `axum`
    /// feature), every request traced and measured, the attribute names of
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, the conventions' query redaction, no
    /// header captured, metrics on the global meter provider without the
    /// opt-in body sizes, panics recorded and re-raised, no response header.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter_with_scope(scope());
        let metrics = ServerMetrics::new(&meter, false);
        Self {
            config: Arc::new(Config {
                extraction: Extraction::default(),
                trust: TrustPolicy::default(),
                route: RouteExtractor::default(),
                filter: None,
                stability: SemconvStability::from_env(),
                redaction: QueryRedaction::default(),
                request_headers: HeaderCapture::default(),
                response_headers: HeaderCapture::default(),
                meter,
                body_sizes: false,
                metrics,
                catch_panic: false,
                trace_response_header: false,
                deadlines: Deadlines::default(),
                spans: SpanStart { head: HeadSampling::default(), direct: DirectSpans::new(scope()) },
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Reads the incoming context with `propagator`.
    pub fn propagator(self, propagator: Propagator) -> Self {
        self.with(|c| c.extraction = Extraction::Throughline(propagator))
    }

    /// Asks this head sampler, rather than the process-wide one, whether a
    /// request is recorded before building its span; see [`HeadSampling`].
    pub fn head_sampling(self, head: HeadSampling) -> Self {
        self.with(|c| c.spans.head = head)
    }

    /// Builds the span of a request the head sampler records with
    /// `provider`'s tracer, directly as an OpenTelemetry span rather than a
    /// bridged `tracing` span ([`DirectSpans`]). Under the process-wide head
    /// sampling, the global tracer provider is used without this.
    pub fn tracer_provider(self, provider: &impl SpanTracerProvider) -> Self {
        self.with(|c| c.spans.direct = c.spans.direct.clone().with_provider(provider))
    }

    /// Reads the incoming context with the global OpenTelemetry propagator.
    pub fn global_propagator(self) -> Self {
        self.with(|c| c.extraction = Extraction::Global)
    }

    /// Decides per request whether the caller's context is trusted.
    pub fn trust(self, trust: TrustPolicy) -> Self {
        self.with(|c| c.trust = trust)
    }

    /// Finds the route template of a request, for `http.route` and the span name.
    pub fn route(self, route: RouteExtractor) -> Self {
        self.with(|c| c.route = route)
    }

    /// Chooses per request whether to trace and whether to measure it.
    pub fn filter(self, filter: impl Fn(&Parts) -> Record + Send + Sync + 'static) -> Self {
        self.with(|c| c.filter = Some(Arc::new(filter)))
    }

    /// Emits the stable names only, or the old ones too, whatever
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` says.
    pub fn semconv_stability(self, stability: SemconvStability) -> Self {
        self.with(|c| c.stability = stability)
    }

    /// Redacts the values of these query keys in `url.query`, in place of the
    /// conventions' list.
    pub fn query_redaction(self, redaction: QueryRedaction) -> Self {
        self.with(|c| c.redaction = redaction)
    }

    /// Also redacts the value of `key` in `url.query`.
    pub fn redact_query_key(self, key: impl Into<Cow<'static, str>>) -> Self {
        self.with(|c| c.redaction = std::mem::take(&mut c.redaction).with_key(key))
    }

    /// Records these request headers as `http.request.header.<name>`;
    /// `authorization`, `proxy-authorization`, `cookie` and `set-cookie`
    /// are never recorded.
    pub fn capture_request_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.with(|c| c.request_headers = HeaderCapture::new(Message::Request, names))
    }

    /// Records these response headers as `http.response.header.<name>`,
    /// never the sensitive ones.
    pub fn capture_response_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.with(|c| c.response_headers = HeaderCapture::new(Message::Response, names))
    }

    /// Records metrics with `provider` rather than the global one.
    pub fn meter_provider(self, provider: &impl MeterProvider) -> Self {
        self.with(|c| {
            c.meter = provider.meter_with_scope(scope());
            c.metrics = ServerMetrics::new(&c.meter, c.body_sizes);
        })
    }

    /// Also records `http.server.request.body.size` and
    /// `http.server.response.body.size`, which the conventions make opt-in.
    pub fn body_size_metrics(self, enabled: bool) -> Self {
        self.with(|c| {
            c.body_sizes = enabled;
            c.metrics = ServerMetrics::new(&c.meter, enabled);
        })
    }

    /// Answers a panicking handler with a 500 rather than letting the panic
    /// unwind into the server. Either way the panic is recorded on the span.
    pub fn catch_panic(self, enabled: bool) -> Self {
        self.with(|c| c.catch_panic = enabled)
    }

    /// Adds `server-timing: traceparent;desc="00-{trace-id}-{span-id}-{flags}"`
    /// to every traced response, so a support ticket or a browser can name
    /// the trace. Never carries `tracestate` or baggage.
    pub fn trace_response_header(self, enabled: bool) -> Self {
        self.with(|c| c.trace_response_header = enabled)
    }

    /// Reads a trusted caller's remaining budget from `header` (throughline-core's
    /// `DEADLINE_HEADER`, `request-timeout-ms`, by default), or from no
    /// header with `None`. The request's deadline becomes a `Deadline`
    /// extension and the current deadline while the handler runs, so the
    /// handler's calls through throughline's client layers send what is
    /// left; a request whose budget is already spent is answered
    /// `504 Gateway Timeout` without calling the handler. A public caller's
    /// header is ignored.
    pub fn deadline_header(self, header: Option<HeaderName>) -> Self {
        self.with(|c| c.deadlines.header = header)
    }

    /// The longest deadline a request gets: a caller's longer budget is cut
    /// to `max`, and a request without one gets `max`. None by default.
    pub fn max_deadline(self, max: Duration) -> Self {
        self.with(|c| c.deadlines.max = Some(max))
    }
}

impl Default for HttpServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = HttpServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServer::new(inner, self.config.clone())
    }
}

impl fmt::Debug for HttpServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("HttpServerLayer")
            .field("extraction", &c.extraction)
            .field("trust", &c.trust)
            .field("route", &c.route)
            .field("filter", &c.filter.as_ref().map(|_| ".."))
            .field("stability", &c.stability)
            .field("redaction", &c.redaction)
            .field("body_size_metrics", &c.body_sizes)
            .field("catch_panic", &c.catch_panic)
            .field("trace_response_header", &c.trace_response_header)
            .field("deadlines", &c.deadlines)
            .field("spans", &c.spans)
            .finish_non_exhaustive()
    }
}
