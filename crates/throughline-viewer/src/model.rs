//! What the store holds: OTLP spans and log records as they arrived, each
//! beside its resource (shared by the spans of one export) and its service.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

/// A trace id: 16 bytes, shown as 32 lowercase hex digits.
///
/// ```
/// use throughline_viewer::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!("4bf9".parse::<TraceId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A span id: 8 bytes, shown as 16 lowercase hex digits.
///
/// ```
/// use throughline_viewer::SpanId;
///
/// let id = SpanId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0x2a]).unwrap();
/// assert_eq!(id.to_string(), "000000000000002a");
/// assert_eq!("000000000000002A".parse::<SpanId>(), Ok(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

/// A string that is not a trace or span id of the right length in hex.
///
/// ```
/// use throughline_viewer::TraceId;
///
/// let error = "xyz".parse::<TraceId>().unwrap_err();
/// assert_eq!(error.to_string(), "not an id of 32 lowercase or uppercase hex digits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id of {0} lowercase or uppercase hex digits")]
pub struct InvalidId(usize);

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], InvalidId> {
    let bytes = s.as_bytes();
    if bytes.len() != 2 * N {
        return Err(InvalidId(2 * N));
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(InvalidId(2 * N)),
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Ok(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = HEX[usize::from(b >> 4)];
        buf[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    f.write_str(std::str::from_utf8(&buf[..2 * bytes.len()]).unwrap_or_default())
}

impl TraceId {
    /// The id of an OTLP `trace_id` field; `None` unless it has 16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl SpanId {
    /// The id of an OTLP `span_id` field; `None` unless it has 8 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl FromStr for TraceId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        parse_hex(s).map(Self)
    }
}

impl FromStr for SpanId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        parse_hex(s).map(Self)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The resource of a batch of spans or logs, shared by all of them, with
/// its `service.name` read once.
///
/// ```
/// use throughline_viewer::Origin;
///
/// let origin = Origin::new(None, "my-scope".into());
/// assert_eq!(&*origin.service, "unknown_service");
/// ```
#[derive(Debug)]
pub struct Origin {
    /// `service.name`, or `unknown_service` as the specification names a
    /// service that did not say.
    pub service: Arc<str>,
    /// The resource as sent.
    pub resource: Resource,
    /// The instrumentation scope's name.
    pub scope: String,
}

impl Origin {
    /// The origin of spans sent with this resource and scope.
    pub fn new(resource: Option<Resource>, scope: String) -> Self {
        let resource = resource.unwrap_or_default();
        let service = find(&resource.attributes, "service.name")
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(Arc::from(s.as_str())),
                _ => None,
            })
            .unwrap_or_else(|| Arc::from("unknown_service"));
        Self { service, resource, scope }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.service.len()
            + self.scope.capacity()
            + attributes_bytes(&self.resource.attributes)
    }
}

/// The first start and the last end of `spans`, `(0, 0)` for none.
pub(crate) fn bounds(spans: &[StoredSpan]) -> (u64, u64) {
    let start = spans.iter().map(|s| s.span.start_time_unix_nano).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.span.end_time_unix_nano).max().unwrap_or(start);
    (start, end.max(start))
}

/// The services that sent `spans`, sorted, each once.
pub(crate) fn services(spans: &[StoredSpan]) -> Vec<&str> {
    let mut services: Vec<&str> = spans.iter().map(StoredSpan::service).collect();
    services.sort_unstable();
    services.dedup();
    services
}

/// One span as it arrived, with where it came from.
///
/// ```
/// use std::sync::Arc;
/// use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};
/// use throughline_viewer::{Origin, StoredSpan};
///
/// let span = StoredSpan {
///     origin: Arc::new(Origin::new(None, String::new())),
///     span: Span {
///         span_id: vec![1; 8],
///         start_time_unix_nano: 1_000,
///         end_time_unix_nano: 3_000,
///         status: Some(Status { code: StatusCode::Error as i32, message: "boom".into() }),
///         ..Span::default()
///     },
/// };
/// assert!(span.is_error() && span.is_entry());
/// assert_eq!((span.duration_nanos(), span.parent_id()), (2_000, None));
/// ```
#[derive(Debug, Clone)]
pub struct StoredSpan {
    /// Resource, service and scope, shared with the spans of the same export.
    pub origin: Arc<Origin>,
    /// The span as sent.
    pub span: Span,
}

impl StoredSpan {
    /// The span's id; `None` when the sender sent a malformed one.
    pub fn span_id(&self) -> Option<SpanId> {
        SpanId::from_bytes(&self.span.span_id)
    }

    /// The parent's id; `None` for a root span.
    pub fn parent_id(&self) -> Option<SpanId> {
        SpanId::from_bytes(&self.span.parent_span_id)
    }

    /// The service that sent it.
    pub fn service(&self) -> &str {
        &self.origin.service
    }

    /// Whether its status is `Error`.
    pub fn is_error(&self) -> bool {
        self.span.status.as_ref().is_some_and(|s| s.code == status::StatusCode::Error as i32)
    }

    /// Its duration in nanoseconds (0 when the sender's clock ran backwards).
    pub fn duration_nanos(&self) -> u64 {
        self.span.end_time_unix_nano.saturating_sub(self.span.start_time_unix_nano)
    }

    /// Whether it is where a request entered its service: a server or
    /// consumer span, or a span without a parent.
    pub fn is_entry(&self) -> bool {
        self.span.kind == span::SpanKind::Server as i32
            || self.span.kind == span::SpanKind::Consumer as i32
            || self.span.parent_span_id.is_empty()
    }

    /// A span attribute.
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        find(&self.span.attributes, key)
    }

    /// The sends before this one (`http.request.resend_count`, or its old
    /// name `http.resend_count`): a retry when above 0.
    pub fn resend_count(&self) -> Option<i64> {
        ["http.request.resend_count", "http.resend_count"].iter().find_map(|key| {
            match self.attribute(key)?.value {
                Some(any_value::Value::IntValue(n)) => Some(n),
                Some(any_value::Value::StringValue(ref s)) => s.parse().ok(),
                _ => None,
            }
        })
    }

    /// What the span holds on the heap beyond its struct: with the trace's
    /// vector of spans, what the store counts against its byte bound.
    pub(crate) fn heap_bytes(&self) -> usize {
        span_bytes(&self.span)
    }
}

/// One log record as it arrived, with where it came from.
///
/// ```
/// use std::sync::Arc;
/// use opentelemetry_proto::tonic::logs::v1::LogRecord;
/// use throughline_viewer::{Origin, StoredLog};
///
/// let log = StoredLog {
///     origin: Arc::new(Origin::new(None, String::new())),
///     record: LogRecord { span_id: vec![7; 8], ..LogRecord::default() },
/// };
/// assert_eq!(log.span_id().unwrap().to_string(), "0707070707070707");
/// ```
#[derive(Debug, Clone)]
pub struct StoredLog {
    /// Resource, service and scope.
    pub origin: Arc<Origin>,
    /// The record as sent.
    pub record: LogRecord,
}

impl StoredLog {
    /// The span it was emitted in.
    pub fn span_id(&self) -> Option<SpanId> {
        SpanId::from_bytes(&self.record.span_id)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let r = &self.record;
        r.severity_text.capacity()
            + r.trace_id.capacity()
            + r.span_id.capacity()
            + r.event_name.capacity()
            + r.body.as_ref().map_or(0, any_value_bytes)
            + attributes_bytes(&r.attributes)
    }
}

/// The first attribute named `key`.
///
/// ```
/// use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
/// use throughline_viewer::{display_value, find};
///
/// let attributes = [KeyValue {
///     key: "http.route".into(),
///     value: Some(AnyValue { value: Some(Value::StringValue("/orders".into())) }),
///     ..KeyValue::default()
/// }];
/// assert_eq!(find(&attributes, "http.route").map(display_value).as_deref(), Some("/orders"));
/// ```
pub fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// A value as text: strings as they are, other values as JSON would write them.
///
/// ```
/// use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
///
/// let value = AnyValue { value: Some(Value::IntValue(503)) };
/// assert_eq!(throughline_viewer::display_value(&value), "503");
/// ```
pub fn display_value(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|b| format!("{b:02x}")).collect(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(display_value).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value.as_ref().map(display_value).unwrap_or_default()))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(any_value::Value::StringValueStrindex(i)) => format!("#{i}"),
        None => String::new(),
    }
}

fn any_value_bytes(value: &AnyValue) -> usize {
    std::mem::size_of::<AnyValue>()
        + match &value.value {
            Some(any_value::Value::StringValue(s)) => s.capacity(),
            Some(any_value::Value::BytesValue(b)) => b.capacity(),
            Some(any_value::Value::ArrayValue(a)) => a.values.iter().map(any_value_bytes).sum(),
            Some(any_value::Value::KvlistValue(kv)) => attributes_bytes(&kv.values),
            _ => 0,
        }
}

fn attributes_bytes(attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| {
            std::mem::size_of::<KeyValue>() + kv.key.capacity() + kv.value.as_ref().map_or(0, any_value_bytes)
        })
        .sum()
}

/// The bytes a span holds beyond its struct (which the trace's vector
/// counts): its strings and vectors by capacity,
/// its attributes, events and links. A linear walk, no allocation.
fn span_bytes(span: &Span) -> usize {
    span.trace_id.capacity()
        + span.span_id.capacity()
        + span.parent_span_id.capacity()
        + span.trace_state.capacity()
        + span.name.capacity()
        + attributes_bytes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| std::mem::size_of::<span::Event>() + e.name.capacity() + attributes_bytes(&e.attributes))
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|l| {
                std::mem::size_of::<span::Link>()
                    + l.trace_id.capacity()
                    + l.span_id.capacity()
                    + l.trace_state.capacity()
                    + attributes_bytes(&l.attributes)
            })
            .sum::<usize>()
        + span.status.as_ref().map_or(0, |s| s.message.capacity())
}
