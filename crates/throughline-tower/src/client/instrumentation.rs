//! [`ClientInstrumentation`]: the client span, its attributes, the
//! injection and the duration metric, for any HTTP client.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use opentelemetry::StringValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::TraceContextExt;
use throughline_core::{DEADLINE_HEADER, Deadline, deadline};
use throughline_propagation::Propagator;

use super::call::ClientCall;
use super::inject::Injection;
use super::metrics::{ClientMetrics, Labels};
use super::request::ClientRequest;
use super::span;
use crate::direct_spans::{DirectSpans, SpanTracerProvider};
use crate::head_sampling::HeadSampling;
use crate::scope;
use crate::semconv::{HttpAttributes, HttpMethod, QueryRedaction, Role, SemconvStability, protocol_version};
use crate::span_start::SpanStart;

type HostFilter = dyn Fn(&str) -> bool + Send + Sync;

/// Everything a call needs, shared by every clone.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) injection: Injection,
    pub(crate) stability: SemconvStability,
    pub(crate) redaction: QueryRedaction,
    /// Hosts that never receive context headers.
    no_propagation: Option<Arc<HostFilter>>,
    /// The header the remaining deadline travels in, if any.
    deadline_header: Option<HeaderName>,
    pub(crate) metrics: Option<ClientMetrics>,
    spans: SpanStart,
}

/// The client side of the HTTP semantic conventions, for any HTTP client:
/// one client span per request (named `{method}`, or
/// `{method} {url.template}` with a [`UrlTemplate`](super::UrlTemplate)),
/// the caller's context injected into the request headers, and
/// `http.client.request.duration`.
///
/// [`HttpClientLayer`](super::HttpClientLayer) and `throughline-reqwest`'s
/// middleware are thin adapters over it: [`start`](Self::start) a call
/// with the request, then tell the [`ClientCall`] how it ended.
///
/// ```
/// use http::{HeaderMap, Method, StatusCode, Uri, Version};
/// use throughline_tower::client::{ClientInstrumentation, ClientRequest};
///
/// let instrumentation = ClientInstrumentation::new().redact_query_key("token");
/// let uri: Uri = "http://inventory.internal:8080/items/7?token=s3cr3t".parse()?;
/// let mut headers = HeaderMap::new();
/// let mut call = instrumentation.start(&ClientRequest::from_uri(&Method::GET, &uri), &mut headers);
/// // ... send the request with `headers` ...
/// call.on_response(StatusCode::OK, Version::HTTP_11);
/// call.finish();
/// # Ok::<(), http::uri::InvalidUri>(())
/// ```
#[derive(Clone)]
pub struct ClientInstrumentation {
    config: Arc<Config>,
}

impl ClientInstrumentation {
    /// The defaults: the process-wide propagator, the deadline sent on
    /// `request-timeout-ms`, the
    /// attribute names of `OTEL_SEMCONV_STABILITY_OPT_IN`, the conventions'
    /// query redaction, context sent to every host, the duration metric on
    /// the global meter provider.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter_with_scope(scope());
        Self {
            config: Arc::new(Config {
                injection: Injection::default(),
                stability: SemconvStability::from_env(),
                redaction: QueryRedaction::default(),
                no_propagation: None,
                deadline_header: Some(DEADLINE_HEADER),
                metrics: Some(ClientMetrics::new(&meter)),
                spans: SpanStart { head: HeadSampling::ProcessWide, direct: DirectSpans::new(scope()) },
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Writes the outgoing context with `propagator`.
    pub fn propagator(self, propagator: Propagator) -> Self {
        self.with(|c| c.injection = Injection::Throughline(propagator))
    }

    /// Writes the outgoing context with the global OpenTelemetry propagator.
    pub fn global_propagator(self) -> Self {
        self.with(|c| c.injection = Injection::Global)
    }

    /// Emits the stable names only, or the old ones too, whatever
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` says.
    pub fn semconv_stability(self, stability: SemconvStability) -> Self {
        self.with(|c| c.stability = stability)
    }

    /// Redacts the values of these query keys in `url.full`, in place of the
    /// conventions' list.
    pub fn query_redaction(self, redaction: QueryRedaction) -> Self {
        self.with(|c| c.redaction = redaction)
    }

    /// Also redacts the value of `key` in `url.full`.
    pub fn redact_query_key(self, key: impl Into<Cow<'static, str>>) -> Self {
        self.with(|c| c.redaction = std::mem::take(&mut c.redaction).with_key(key))
    }

    /// Never sends context headers to these hosts: third parties that must
    /// not see internal trace ids. A name starting with `.` matches every
    /// subdomain (`.example.com`); the others match exactly, ignoring case.
    /// Replaces an earlier [`no_propagation_when`](Self::no_propagation_when).
    pub fn no_propagation_to<I, H>(self, hosts: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: Into<String>,
    {
        self.no_propagation_when(host_list(hosts))
    }

    /// Never sends context headers to a host for which `skip` is true.
    pub fn no_propagation_when(self, skip: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.with(|c| c.no_propagation = Some(Arc::new(skip)))
    }

    /// Sends the call's remaining deadline on `header` (throughline-core's
    /// `DEADLINE_HEADER`, `request-timeout-ms`, by default), or on none with
    /// `None`. The deadline is the earlier of the request's `Deadline`
    /// extension and the current one (what a throughline server layer read
    /// from its caller); it is sent in whole milliseconds, rounded down, and
    /// never to a host that gets no context headers.
    pub fn deadline_header(self, header: Option<HeaderName>) -> Self {
        self.with(|c| c.deadline_header = header)
    }

    /// Records `http.client.request.duration` with `provider` rather than the global one.
    pub fn meter_provider(self, provider: &impl MeterProvider) -> Self {
        let metrics = ClientMetrics::new(&provider.meter_with_scope(scope()));
        self.with(|c| c.metrics = Some(metrics))
    }

    /// Asks this head sampler, rather than the process-wide one, whether a
    /// call is recorded before building its span: an unrecorded call gets
    /// only the span context it propagates.
    pub fn head_sampling(self, head: HeadSampling) -> Self {
        self.with(|c| c.spans.head = head)
    }

    /// Builds the span of a call the head sampler records with `provider`'s
    /// tracer, directly as an OpenTelemetry span rather than a bridged
    /// `tracing` span ([`DirectSpans`](crate::server::DirectSpans)). Under
    /// the process-wide head sampling, the global tracer provider is used
    /// without this.
    pub fn tracer_provider(self, provider: &impl SpanTracerProvider) -> Self {
        self.with(|c| c.spans.direct = c.spans.direct.clone().with_provider(provider))
    }

    /// Records no metric: spans and injection only.
    pub fn without_metrics(self) -> Self {
        self.with(|c| c.metrics = None)
    }

    /// Starts the call of `request`: creates the client span as a child of
    /// the current span and writes the context into `headers`, unless the
    /// request carries [`SuppressPropagation`](super::SuppressPropagation)
    /// or its host is excluded.
    ///
    /// When the span is disabled (a level filter), the current context is
    /// injected; when it is sampled out, its own unsampled context is, and
    /// when the head sampler already says so, that context is all there is.
    /// Attributes are built only for a span that records.
    pub fn start(&self, request: &ClientRequest<'_>, headers: &mut HeaderMap) -> ClientCall {
        let method = HttpMethod::new(request.method);
        let (span, cx, recording) = span::start(&method, &self.config.spans);
        if recording {
            let otel = cx.span();
            let template = request.template();
            if let Some(template) = template {
                otel.update_name(format!("{} {}", method.span_name(), template.as_str()));
            }
            otel.set_attributes(self.request_attributes(request, &method, template));
        }
        if !request.suppressed()
            && !self.config.no_propagation.as_ref().is_some_and(|skip| skip(request.address()))
        {
            self.config.injection.inject(&cx, headers);
            self.send_deadline(request, headers);
        }
        let labels = self.config.metrics.as_ref().map(|_| Labels {
            method: method.as_str(),
            scheme: scheme(request.scheme),
            // Shared, so that the metric keys holding it copy no string.
            address: StringValue::from(Arc::<str>::from(request.address())),
            port: request.port(),
            protocol: protocol_version(request.version),
            status: None,
            error_type: None,
        });
        ClientCall::new(self.config.clone(), span, cx, recording, labels)
    }

    fn send_deadline(&self, request: &ClientRequest<'_>, headers: &mut HeaderMap) {
        let Some(header) = &self.config.deadline_header else { return };
        let own = request.extensions.and_then(|extensions| extensions.get::<Deadline>().copied());
        if let Some(deadline) = Deadline::earliest(own, deadline::current()) {
            headers.insert(header.clone(), deadline.to_millis_header());
        }
    }

    fn request_attributes(
        &self,
        request: &ClientRequest<'_>,
        method: &HttpMethod<'_>,
        template: Option<&super::UrlTemplate>,
    ) -> Vec<opentelemetry::KeyValue> {
        let mut attributes = HttpAttributes::with_capacity(Role::Client, self.config.stability, 8);
        attributes.method(method);
        attributes.server_address(request.address(), Some(request.port()));
        attributes.url_full(request.url_full(&self.config.redaction));
        if let Some(template) = template {
            attributes.url_template(StringValue::from(template.0.clone()));
        }
        if request.resend_count > 0 {
            attributes.resend_count(request.resend_count);
        }
        attributes.into_vec()
    }
}

/// A predicate over hosts for `no_propagation_to`: a name starting with `.`
/// matches every subdomain (`.example.com`); the others match exactly,
/// ignoring case. Shared with throughline-tonic's client layer.
pub fn host_list<I, H>(hosts: I) -> impl Fn(&str) -> bool + Send + Sync + 'static
where
    I: IntoIterator<Item = H>,
    H: Into<String>,
{
    let hosts: Vec<String> = hosts.into_iter().map(|h| h.into().to_ascii_lowercase()).collect();
    move |host| {
        hosts.iter().any(|h| match h.strip_prefix('.') {
            Some(domain) => {
                host.len() > domain.len()
                    && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            }
            None => host.eq_ignore_ascii_case(h),
        })
    }
}

/// `http`, `https`, or `_OTHER`: a metric label from a fixed set.
fn scheme(scheme: &str) -> &'static str {
    if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        "_OTHER"
    }
}

impl Default for ClientInstrumentation {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientInstrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("ClientInstrumentation")
            .field("injection", &c.injection)
            .field("stability", &c.stability)
            .field("redaction", &c.redaction)
            .field("no_propagation", &c.no_propagation.as_ref().map(|_| ".."))
            .field("deadline_header", &c.deadline_header)
            .field("spans", &c.spans)
            .field("metrics", &c.metrics.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_by_domain() {
        let instrumentation =
            ClientInstrumentation::new().no_propagation_to(["api.stripe.com", ".partner.example"]);
        let skip = instrumentation.config.no_propagation.as_ref().unwrap();
        assert!(skip("API.stripe.com"));
        assert!(skip("eu.partner.example"));
        assert!(!skip("partner.example"));
        assert!(!skip("evilpartner.example"));
        assert!(!skip("stripe.com"));
    }
}
