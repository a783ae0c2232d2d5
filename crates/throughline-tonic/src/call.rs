//! One gRPC call between its start and the end of its response stream: the
//! span, the metric labels and the clock, on either side; and how the call
//! ends.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, StatusCode};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{EXCEPTION_MESSAGE, EXCEPTION_TYPE};
use throughline_core::{Deadline, GrpcCode, ResendCount};
use throughline_tower::semconv::{Role, ValueLength, error_type_of};
use throughline_tower::server::{Entered, RequestSpan};

use crate::metadata::Metadata;
use crate::metrics::{CallMetrics, Labels};
use crate::semconv::{
    self, ERROR_TYPE, GRPC, GrpcMethod, OTHER, PREVIOUS_RPC_ATTEMPTS, RPC_METHOD, RPC_METHOD_ORIGINAL,
    RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT, is_error, old,
};

/// What a call is, read from its request before it starts.
pub(crate) struct Request<'a> {
    pub(crate) path: &'a str,
    /// The request's metadata, for the keys the layer captures.
    pub(crate) headers: &'a HeaderMap,
    /// The keys the layer captures, if any.
    pub(crate) metadata: Option<&'a Arc<Metadata>>,
    pub(crate) server: Option<(StringValue, Option<u16>)>,
    /// The bound on values taken from the request, read once by the layer.
    pub(crate) value_length: ValueLength,
    /// On a client, the attempts of the same call that went before.
    pub(crate) resends: Option<ResendCount>,
}

/// A call in flight. Dropping it before [`finish`](Self::finish) means the
/// response stream was abandoned, which ends the call `CANCELLED`.
pub(crate) struct Call {
    metrics: Arc<CallMetrics>,
    traced: RequestSpan,
    labels: Labels,
    /// `rpc.method_original`, for a recording span whose method is `_OTHER`.
    original: Option<StringValue>,
    /// One clock for the span and the duration metric.
    started: Instant,
    /// The deadline the server layer makes current while it polls.
    deadline: Option<Deadline>,
    /// Recorded in the metrics (a server filter may say no).
    measure: bool,
    /// The response metadata to capture, for a recording span.
    response_metadata: Option<Arc<Metadata>>,
    finished: bool,
}

impl Call {
    /// Starts measuring a call whose span `traced` was just started (the
    /// sampler has decided); a recording span gets the request attributes.
    pub(crate) fn start(
        metrics: Arc<CallMetrics>,
        traced: RequestSpan,
        request: Request<'_>,
        deadline: Option<Deadline>,
        started: Instant,
    ) -> Self {
        let method = GrpcMethod::parse(request.path);
        let dup = metrics.stability.emits_old();
        if traced.is_recording() {
            let otel = traced.context().span();
            // The method, or the system when the method is `_OTHER`.
            match method {
                Some(method) => otel.update_name(method.full().to_owned()),
                None => otel.update_name(GRPC),
            }
            let mut attributes = Vec::with_capacity(5);
            attributes.push(KeyValue::new(RPC_SYSTEM_NAME, GRPC));
            if let Some((host, port)) = &request.server {
                attributes.push(KeyValue::new(SERVER_ADDRESS, host.clone()));
                if let Some(port) = port {
                    attributes.push(KeyValue::new(SERVER_PORT, i64::from(*port)));
                }
            }
            if dup {
                attributes.push(KeyValue::new(old::RPC_SYSTEM, GRPC));
            }
            if let Some(metadata) = request.metadata {
                metadata.request.record(request.headers, dup, &mut attributes);
            }
            if let Some(ResendCount(resends)) = request.resends {
                attributes.push(KeyValue::new(PREVIOUS_RPC_ATTEMPTS, i64::from(resends)));
            }
            otel.set_attributes(attributes);
        }
        let response_metadata = request
            .metadata
            .filter(|metadata| traced.is_recording() && !metadata.response.is_empty())
            .cloned();
        let labels = Labels {
            // Shared by the span and the metric: cloned without copying.
            method: method.map_or(StringValue::from(OTHER), |method| {
                StringValue::from(Arc::<str>::from(method.full()))
            }),
            service: method
                .filter(|_| dup)
                .map(|method| StringValue::from(Arc::<str>::from(method.service()))),
            code: None,
            error_type: None,
            server: if metrics.role == Role::Client { request.server } else { None },
        };
        // `rpc.method` waits for the end, where an unknown method becomes `_OTHER`.
        // The path is the caller's: capped before it is recorded.
        let original = (method.is_none() && traced.is_recording())
            .then(|| StringValue::from(request.value_length.cap(request.path).to_owned()));
        Self {
            metrics,
            traced,
            labels,
            original,
            started,
            deadline,
            measure: true,
            response_metadata,
            finished: false,
        }
    }

    /// Makes the call's span current, around work done for this call.
    pub(crate) fn enter(&self) -> Entered<'_> {
        self.traced.enter()
    }

    /// The deadline to make current around the server's work.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    /// The role of this side, to tell server from client work.
    pub(crate) fn role(&self) -> Role {
        self.metrics.role
    }

    /// The response head: a status other than 200 is mapped to its gRPC
    /// code; otherwise `grpc-status` in the headers is a trailers-only
    /// response, the status known before any message. The captured response
    /// metadata is read here, from the headers (the trailers are not read).
    pub(crate) fn on_head(&mut self, status: StatusCode, headers: &HeaderMap) {
        if let Some(metadata) = &self.response_metadata {
            let mut attributes = Vec::new();
            metadata.response.record(headers, self.metrics.stability.emits_old(), &mut attributes);
            if !attributes.is_empty() {
                self.traced.context().span().set_attributes(attributes);
            }
        }
        if status != StatusCode::OK {
            self.labels.code = Some(semconv::code_from_http(status));
        } else if let Some(code) = GrpcCode::from_headers(headers) {
            self.labels.code = Some(code);
        }
    }

    /// The trailers at the end of the stream carry the status.
    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = GrpcCode::from_headers(trailers) {
            self.labels.code = Some(code);
        }
    }

    /// The inner service or the body failed: no status, an error.
    pub(crate) fn on_error<E: std::fmt::Display + ?Sized>(&mut self, error: &E) {
        let error_type = error_type_of::<E>();
        if self.traced.is_recording() {
            self.traced.context().span().add_event(
                "exception",
                vec![
                    KeyValue::new(EXCEPTION_TYPE, error_type),
                    KeyValue::new(EXCEPTION_MESSAGE, error.to_string()),
                ],
            );
        }
        if self.labels.error_type.is_none() {
            self.labels.error_type = Some(StringValue::from(error_type));
        }
    }

    /// The stream is over; a stream that ended without a status is
    /// `UNKNOWN`, as gRPC clients read it.
    pub(crate) fn end_of_stream(mut self) {
        if self.labels.code.is_none() && self.labels.error_type.is_none() {
            self.labels.code = Some(GrpcCode::Unknown);
        }
        self.complete();
    }

    /// The call is over as it stands.
    pub(crate) fn finish(mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let (now, seconds) = (SystemTime::now(), self.started.elapsed().as_secs_f64());
        let role = self.metrics.role;
        let dup = self.metrics.stability.emits_old();
        let code = self.labels.code;
        // A server that does not know the method answers UNIMPLEMENTED: the
        // path is then the caller's, and kept out of the metrics.
        let unknown_method = role == Role::Server
            && code == Some(GrpcCode::Unimplemented)
            && self.labels.method.as_str() != OTHER;
        if unknown_method {
            self.original = Some(std::mem::replace(&mut self.labels.method, StringValue::from(OTHER)));
            self.labels.service = None;
        }
        if let Some(code) = code
            && is_error(code, role)
            && self.labels.error_type.is_none()
        {
            self.labels.error_type = Some(StringValue::from(code.as_str()));
        }
        if self.traced.is_recording() {
            let otel = self.traced.context().span();
            if unknown_method {
                otel.update_name(GRPC);
            }
            let mut attributes = Vec::with_capacity(6);
            attributes.push(KeyValue::new(RPC_METHOD, self.labels.method.clone()));
            if let Some(original) = &self.original {
                attributes.push(KeyValue::new(RPC_METHOD_ORIGINAL, original.clone()));
            }
            if let Some(service) = &self.labels.service {
                attributes.push(KeyValue::new(old::RPC_SERVICE, service.clone()));
            }
            if let Some(code) = code {
                attributes.push(KeyValue::new(RPC_RESPONSE_STATUS_CODE, code.as_str()));
                if dup {
                    attributes.push(KeyValue::new(old::RPC_GRPC_STATUS_CODE, i64::from(code as i32)));
                }
            }
            if let Some(error_type) = &self.labels.error_type {
                attributes.push(KeyValue::new(ERROR_TYPE, error_type.clone()));
                otel.set_status(Status::error(""));
            }
            otel.set_attributes(attributes);
            // Ended here, next to the metric's clock, rather than when the
            // tracing span closes: the stream is not polled inside the span.
            otel.end_with_timestamp(now);
        }
        if self.measure {
            self.metrics.record(&self.labels, seconds);
        }
    }

    /// Keeps the call out of the metrics.
    pub(crate) fn unmeasured(mut self) -> Self {
        self.measure = false;
        self
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            // Abandoned: the caller went away, or stopped reading.
            if self.labels.code.is_none() && self.labels.error_type.is_none() {
                self.labels.code = Some(GrpcCode::Cancelled);
            }
            self.complete();
        }
    }
}
