//! [`ClientCall`]: one outgoing request between its start and its end.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{StatusCode, Version};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use tracing::Span;

use super::instrumentation::Config;
use super::metrics::Labels;
use crate::semconv::{self, HttpAttributes, Role, protocol_version, status_error_type};
use crate::server::Entered;

/// A call in flight, from [`ClientInstrumentation::start`](super::ClientInstrumentation::start).
///
/// Tell it the response head ([`on_response`](Self::on_response)) or the
/// error ([`on_error`](Self::on_error)), then [`finish`](Self::finish) it
/// when the exchange is over: the span ends and the duration is recorded
/// then, on one clock. Dropped unfinished, it ends as well; a call dropped
/// before any response was cancelled, and records `error.type`
/// `request_cancelled`.
pub struct ClientCall {
    config: Arc<Config>,
    span: Span,
    cx: Context,
    /// Sampled in: only then are attributes written.
    recording: bool,
    labels: Option<Labels>,
    started: Instant,
    responded: bool,
    failed: bool,
    finished: bool,
}

impl ClientCall {
    pub(crate) fn new(
        config: Arc<Config>,
        span: Span,
        cx: Context,
        recording: bool,
        labels: Option<Labels>,
    ) -> Self {
        if let (Some(metrics), Some(labels)) = (&config.metrics, &labels) {
            metrics.started(labels);
        }
        Self {
            config,
            span,
            cx,
            recording,
            labels,
            started: Instant::now(),
            responded: false,
            failed: false,
            finished: false,
        }
    }

    /// The client span, to enter (or `instrument` a future with) while the
    /// request is sent. Disabled when the subscriber filtered it out, and
    /// when the span was built directly or not at all: [`enter`](Self::enter)
    /// covers every case.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Makes the call current until the guard drops, for the work done on
    /// its behalf: its span entered, or, when it has none (built directly,
    /// or not recorded), its context attached.
    pub fn enter(&self) -> Entered<'_> {
        if self.span.is_disabled() {
            Entered::Context(self.cx.clone().attach())
        } else {
            Entered::Span(self.span.enter())
        }
    }

    /// The context sent with the request: the client span's, or the
    /// current one when the span is disabled.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Whether the span records (was sampled in).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The response head arrived: records the status, and a 4xx or 5xx as
    /// the error (`error.type` is the status code), and the protocol version
    /// the server answered with.
    pub fn on_response(&mut self, status: StatusCode, version: Version) {
        self.responded = true;
        let protocol = protocol_version(version);
        if let Some(labels) = &mut self.labels {
            labels.status = Some(status.as_u16());
            labels.protocol = protocol;
        }
        if self.recording {
            let mut attributes = HttpAttributes::with_capacity(Role::Client, self.config.stability, 2);
            attributes.status_code(status.as_u16());
            attributes.protocol_version(protocol);
            self.cx.span().set_attributes(attributes.into_vec());
        }
        if let Some(error_type) = status_error_type(status, Role::Client) {
            // The status code says it all: no description.
            self.fail(StringValue::from(error_type), "");
        }
    }

    /// The call failed without a response: `error_type` is a low-cardinality
    /// kind (`timeout`, `connect`, see [`error_kind`](super::error_kind)) or
    /// the error's type name; `message` becomes the span status description,
    /// with the URLs inside it redacted as `url.full` is
    /// ([`QueryRedaction::redact_urls_in`](crate::semconv::QueryRedaction::redact_urls_in)).
    pub fn on_error(&mut self, error_type: impl Into<StringValue>, message: &dyn std::fmt::Display) {
        self.responded = true;
        let description = if self.recording {
            let message = message.to_string();
            self.config.redaction.redact_urls_in(&message).into_owned()
        } else {
            String::new()
        };
        self.fail(error_type.into(), &description);
    }

    /// Marks the call failed; the first cause is the one recorded.
    fn fail(&mut self, error_type: StringValue, description: &str) {
        if self.failed {
            return;
        }
        self.failed = true;
        if self.recording {
            let otel = self.cx.span();
            otel.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
            otel.set_status(Status::error(description.to_owned()));
        }
        if let Some(labels) = &mut self.labels {
            labels.error_type = Some(error_type);
        }
    }

    /// The exchange is over: ends the span and records the duration.
    pub fn finish(mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let (now, seconds) = (SystemTime::now(), self.started.elapsed().as_secs_f64());
        // Ended here, not when the tracing span closes: a response body is
        // read outside the span, and the end is read next to the metric's.
        if self.recording {
            self.cx.span().end_with_timestamp(now);
        }
        if let (Some(metrics), Some(labels)) = (&self.config.metrics, &self.labels) {
            metrics.ended(labels);
            metrics.record(labels, seconds);
        }
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        if !self.finished {
            if !self.responded {
                self.fail(StringValue::from(semconv::REQUEST_CANCELLED), "the request was cancelled");
            }
            self.complete();
        }
    }
}

impl std::fmt::Debug for ClientCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCall")
            .field("recording", &self.recording)
            .field("responded", &self.responded)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
