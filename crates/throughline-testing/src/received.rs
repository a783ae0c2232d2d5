//! What an [`OtlpReceiver`](crate::OtlpReceiver) received, flattened for
//! assertions: one item per span, metric or log record, each with its resource
//! and scope at hand.

use std::fmt;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::{Span, status};

/// How an export request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OTLP over gRPC.
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies.
    HttpJson,
}

/// An attribute value, simplified for comparisons.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// An array, a map or bytes, rendered as debug text.
    Other(String),
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&AnyValue> for Value {
    fn from(value: &AnyValue) -> Self {
        match &value.value {
            Some(any_value::Value::StringValue(s)) => Self::Str(s.clone()),
            Some(any_value::Value::IntValue(i)) => Self::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Self::Double(*d),
            Some(any_value::Value::BoolValue(b)) => Self::Bool(*b),
            Some(other) => Self::Other(format!("{other:?}")),
            None => Self::Other(String::new()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(s),
            Self::Int(i) => write!(f, "{i}"),
            Self::Double(d) => write!(f, "{d}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

pub(crate) fn find(attributes: &[KeyValue], key: &str) -> Option<Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).map(Value::from)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One received span, with its resource and scope.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The resource attributes.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// The span as sent.
    pub span: Span,
    /// How it arrived.
    pub protocol: Protocol,
}

impl ReceivedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The trace id, as lowercase hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id, as lowercase hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id, as lowercase hex; `None` for a root span.
    pub fn parent_span_id(&self) -> Option<String> {
        (!self.span.parent_span_id.is_empty()).then(|| hex(&self.span.parent_span_id))
    }

    /// A span attribute.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        find(&self.span.attributes, key)
    }

    /// A resource attribute.
    pub fn resource_attribute(&self, key: &str) -> Option<Value> {
        find(&self.resource, key)
    }

    /// Whether the status is `Error`.
    pub fn is_error(&self) -> bool {
        self.span.status.as_ref().is_some_and(|s| s.code == status::StatusCode::Error as i32)
    }

    /// The span's duration.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.span.end_time_unix_nano.saturating_sub(self.span.start_time_unix_nano))
    }

    /// The names of the span's events.
    pub fn event_names(&self) -> Vec<&str> {
        self.span.events.iter().map(|e| e.name.as_str()).collect()
    }
}

/// One received metric, with its resource and scope.
#[derive(Clone, Debug)]
pub struct ReceivedMetric {
    /// The resource attributes.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// The metric as sent.
    pub metric: Metric,
    /// How it arrived.
    pub protocol: Protocol,
}

impl ReceivedMetric {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// The metric's unit.
    pub fn unit(&self) -> &str {
        &self.metric.unit
    }

    /// A resource attribute.
    pub fn resource_attribute(&self, key: &str) -> Option<Value> {
        find(&self.resource, key)
    }

    /// The sum of a counter's data points (integer or floating point).
    pub fn sum(&self) -> Option<f64> {
        match self.metric.data.as_ref()? {
            metric::Data::Sum(sum) => Some(sum.data_points.iter().map(number).sum()),
            metric::Data::Gauge(gauge) => Some(gauge.data_points.iter().map(number).sum()),
            _ => None,
        }
    }

    /// A histogram's total count over its data points.
    pub fn histogram_count(&self) -> Option<u64> {
        match self.metric.data.as_ref()? {
            metric::Data::Histogram(h) => Some(h.data_points.iter().map(|p| p.count).sum()),
            _ => None,
        }
    }
}

fn number(point: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> f64 {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    match point.value {
        Some(Value::AsDouble(d)) => d,
        Some(Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// One received log record, with its resource and scope.
#[derive(Clone, Debug)]
pub struct ReceivedLog {
    /// The resource attributes.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// The record as sent.
    pub record: LogRecord,
    /// How it arrived.
    pub protocol: Protocol,
}

impl ReceivedLog {
    /// The body, when it is a string.
    pub fn body(&self) -> Option<String> {
        self.record.body.as_ref().map(|b| Value::from(b).to_string())
    }

    /// The severity text (`INFO`, `ERROR`, ...).
    pub fn severity(&self) -> &str {
        &self.record.severity_text
    }

    /// The trace id the record was emitted in, as lowercase hex.
    pub fn trace_id(&self) -> Option<String> {
        (!self.record.trace_id.is_empty()).then(|| hex(&self.record.trace_id))
    }

    /// A record attribute.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        find(&self.record.attributes, key)
    }

    /// A resource attribute.
    pub fn resource_attribute(&self, key: &str) -> Option<Value> {
        find(&self.resource, key)
    }
}
