//! One request between its arrival and the end of its response body: the
//! span, the metric labels and the clock, and how the request ends.

use std::any::Any;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE};
use throughline_propagation::TraceContext;

use super::filter::Record;
use super::layer::Config;
use super::metrics::{Labels, Measured};
use super::request_span::RequestSpan;
use super::span;
use super::trust::Trust;
use crate::semconv::{self, HttpAttributes, HttpMethod, Role, status_error_type};

/// A request in flight. Dropping it before [`finish`](Self::finish) means
/// the response was abandoned (the future or the body dropped early), and
/// is recorded as such.
pub(crate) struct InFlight {
    config: Arc<Config>,
    traced: Option<RequestSpan>,
    labels: Labels,
    measure: bool,
    /// One clock for the span and the duration metric: `Instant` for the
    /// metric, taken next to the span's own start and end.
    started: Instant,
    request_body: Option<u64>,
    response_body: u64,
    finished: bool,
}

impl InFlight {
    /// Starts tracing and measuring `parts`, as `record` says, from a
    /// caller `trust` describes.
    pub(crate) fn start(config: Arc<Config>, parts: &Parts, record: Record, trust: Trust) -> Self {
        let method = HttpMethod::new(&parts.method);
        // Read next to the span's own start, which tracing-opentelemetry stamps.
        let started = Instant::now();
        let traced = record
            .trace
            .then(|| span::start(&method, config.extraction.incoming(&parts.headers, trust), &config.spans));
        let recording = traced.as_ref().is_some_and(RequestSpan::is_recording);
        // What neither a recording span nor a metric needs is not read.
        let described = recording || record.metrics;
        let scheme = if described { span::scheme(parts, trust) } else { "" };
        // Routes are few: one shared string serves the span and every metric.
        let route = described
            .then(|| config.route.extract(parts))
            .flatten()
            .map(|route| StringValue::from(Arc::<str>::from(route.as_ref())));
        if let Some(traced) = traced.as_ref().filter(|_| recording) {
            let otel = traced.context().span();
            if let Some(route) = &route {
                otel.update_name(format!("{} {}", method.span_name(), route.as_str()));
            }
            otel.set_attributes(span::request_attributes(
                &config,
                parts,
                &method,
                scheme,
                route.as_ref(),
                trust,
            ));
        }
        let labels = Labels {
            method: method.as_str(),
            scheme,
            route,
            protocol: semconv::protocol_version(parts.version),
            status: None,
            error_type: None,
        };
        if record.metrics {
            config.metrics.started(&labels);
        }
        Self {
            config,
            traced,
            labels,
            measure: record.metrics,
            started,
            request_body: None,
            response_body: 0,
            finished: false,
        }
    }

    /// Records the request body's size, when known from its length.
    pub(crate) fn request_body_size(&mut self, size: Option<u64>) {
        self.request_body = size;
    }

    /// Whether anything is left to record once the response head is sent: a
    /// recording span or a metric, both ended by the response body.
    pub(crate) fn follows_the_body(&self) -> bool {
        self.measure || self.recording().is_some()
    }

    /// The span, to enter around work done for this request.
    pub(crate) fn span(&self) -> Option<&RequestSpan> {
        self.traced.as_ref()
    }

    fn recording(&self) -> Option<opentelemetry::trace::SpanRef<'_>> {
        self.traced.as_ref().filter(|traced| traced.is_recording()).map(|traced| traced.context().span())
    }

    /// The response head is ready: status, captured headers, the trace
    /// response header.
    pub(crate) fn on_response<B>(&mut self, response: &mut Response<B>) {
        self.record_status(response.status(), response.headers());
        if self.config.trace_response_header
            && let Some(value) = self.traced.as_ref().and_then(|traced| server_timing(traced.context()))
        {
            response.headers_mut().append(http::header::HeaderName::from_static("server-timing"), value);
        }
    }

    /// The inner service returned an error instead of a response.
    pub(crate) fn on_error<E: std::fmt::Display>(&mut self, error: &E) {
        let error_type = semconv::error_type_of::<E>();
        // An error may name a URL it failed to reach, credentials included.
        let message = error.to_string();
        self.exception(error_type, self.config.redaction.redact_urls_in(&message).into_owned());
        self.fail(StringValue::from(error_type), None);
    }

    /// The inner service panicked.
    pub(crate) fn on_panic(&mut self, payload: &(dyn Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        self.exception(semconv::PANIC, message);
        self.fail(StringValue::from(semconv::PANIC), Some("the handler panicked"));
    }

    /// A panic answered with a 500.
    pub(crate) fn on_panic_response(&mut self) {
        self.record_status(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new());
    }

    /// The status code, the captured response headers, and a 5xx as the error.
    fn record_status(&mut self, status: StatusCode, headers: &HeaderMap) {
        self.labels.status = Some(status.as_u16());
        if let Some(otel) = self.recording() {
            let mut attributes = HttpAttributes::new(Role::Server, self.config.stability);
            attributes.status_code(status.as_u16());
            for header in self.config.response_headers.attributes(headers) {
                attributes.push(header);
            }
            otel.set_attributes(attributes.into_vec());
        }
        if let Some(error_type) = status_error_type(status, Role::Server) {
            // A 5xx carries no description: the status code says it all.
            self.fail(StringValue::from(error_type), None);
        }
    }

    pub(crate) fn on_data(&mut self, bytes: usize) {
        self.response_body += bytes as u64;
    }

    fn exception(&self, error_type: &'static str, message: String) {
        if let Some(otel) = self.recording() {
            otel.add_event(
                "exception",
                vec![KeyValue::new(EXCEPTION_TYPE, error_type), KeyValue::new(EXCEPTION_MESSAGE, message)],
            );
        }
    }

    /// Marks the request failed; the first cause is the one recorded.
    fn fail(&mut self, error_type: StringValue, description: Option<&'static str>) {
        if self.labels.error_type.is_some() {
            return;
        }
        if let Some(otel) = self.recording() {
            otel.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
            otel.set_status(Status::error(description.unwrap_or_default()));
        }
        self.labels.error_type = Some(error_type);
    }

    /// The response is complete.
    pub(crate) fn finish(mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        // Ended here rather than when the tracing span closes, whose end is
        // its last exit: the body is not polled inside the span, and the end
        // is read next to the metric's. tracing-opentelemetry's own end later
        // finds the span already ended.
        if let Some(otel) = self.recording() {
            otel.end_with_timestamp(SystemTime::now());
        }
        if self.measure {
            let seconds = self.started.elapsed().as_secs_f64();
            let measured =
                Measured { seconds, request_body: self.request_body, response_body: self.response_body };
            self.config.metrics.completed(&self.labels, &measured);
        }
        // Dropping `traced` then closes the tracing span.
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.finished {
            let (error_type, description) = match self.labels.status {
                Some(_) => (semconv::RESPONSE_BODY_DROPPED, "the response body was dropped before its end"),
                None => (semconv::REQUEST_CANCELLED, "the request was cancelled before a response"),
            };
            self.fail(StringValue::from(error_type), Some(description));
            self.complete();
        }
    }
}

/// `traceparent;desc="00-…"`: the form browsers read from `Server-Timing`.
fn server_timing(cx: &Context) -> Option<HeaderValue> {
    // With the trace's origin: a trace started here says its id is random.
    let trace = TraceContext::from_context(cx)?;
    let value = format!("traceparent;desc=\"{}\"", trace.traceparent.encode());
    HeaderValue::from_str(&value).ok()
}
