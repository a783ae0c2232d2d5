//! The composite propagator, configured like `OTEL_PROPAGATORS`.

use std::fmt;
use std::str::FromStr;

use crate::b3::{self, B3, B3Error, B3MultiHeaders};
use crate::baggage::{Baggage, BaggageError};
use crate::carrier::{Extractor, Field, Injector};
use crate::context::TraceContext;
use crate::jaeger::{self, Jaeger, JaegerError};
use crate::percent;
use crate::traceparent::{TraceParent, TraceParentError};
use crate::tracestate::{TraceState, TraceStateError};
use crate::xray::{self, XRay, XRayError};

/// A propagation format, named as in `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `tracecontext`: W3C `traceparent` and `tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
    /// `b3`: the single `b3` header.
    B3,
    /// `b3multi`: the `X-B3-*` headers.
    B3Multi,
    /// `jaeger`: the `uber-trace-id` header, and baggage as `uberctx-{key}`
    /// headers. HTTP header names ignore case, so a key travels lowercase in
    /// an `http::HeaderMap`, as the Jaeger documentation warns.
    Jaeger,
    /// `xray`: the AWS X-Ray `X-Amzn-Trace-Id` header.
    XRay,
}

impl Format {
    pub(crate) const ALL: [Format; 6] =
        [Format::TraceContext, Format::Baggage, Format::B3, Format::B3Multi, Format::Jaeger, Format::XRay];

    /// The name used in `OTEL_PROPAGATORS`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::Jaeger => "jaeger",
            Self::XRay => "xray",
        }
    }

    /// The fields this format reads and writes. Jaeger's baggage headers,
    /// whose names depend on the baggage, are not listed, as in
    /// OpenTelemetry's Jaeger propagators.
    pub fn fields(self) -> &'static [Field] {
        // Statics, because a `Field` holds a `HeaderName`, which cannot be
        // promoted to a constant slice.
        static TRACE_CONTEXT: [Field; 2] = [Field::TRACEPARENT, Field::TRACESTATE];
        static BAGGAGE: [Field; 1] = [Field::BAGGAGE];
        static B3: [Field; 1] = [Field::B3];
        static B3_MULTI: [Field; 5] = [
            Field::X_B3_TRACE_ID,
            Field::X_B3_SPAN_ID,
            Field::X_B3_PARENT_SPAN_ID,
            Field::X_B3_SAMPLED,
            Field::X_B3_FLAGS,
        ];
        static JAEGER: [Field; 1] = [Field::UBER_TRACE_ID];
        static XRAY: [Field; 1] = [Field::X_AMZN_TRACE_ID];
        match self {
            Self::TraceContext => &TRACE_CONTEXT,
            Self::Baggage => &BAGGAGE,
            Self::B3 => &B3,
            Self::B3Multi => &B3_MULTI,
            Self::Jaeger => &JAEGER,
            Self::XRay => &XRAY,
        }
    }

    #[cfg(feature = "opentelemetry")]
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl FromStr for Format {
    type Err = PropagatorConfigError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| PropagatorConfigError::Unknown(name.to_owned()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Extracts and injects a chosen, ordered set of formats.
///
/// Extraction runs the formats in order and a later format's trace context
/// replaces an earlier one's, as the OpenTelemetry composite propagator does.
/// Baggage read by a later format (`baggage`, or `jaeger`'s `uberctx-*`
/// headers) is added to what earlier formats read, a member replacing the
/// earlier members of its key. Injection writes every format. The default is
/// `tracecontext,baggage`.
///
/// ```
/// use http::HeaderMap;
/// use throughline_propagation::{Propagator, SpanId};
///
/// let propagator: Propagator = "tracecontext,baggage".parse()?;
///
/// let mut incoming = HeaderMap::new();
/// incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
/// incoming.insert("baggage", "userId=alice".parse()?);
/// let extracted = propagator.extract(&incoming);
///
/// let mut outgoing = HeaderMap::new();
/// let trace = extracted.trace.map(|cx| cx.child(SpanId::random()));
/// propagator.inject(trace.as_ref(), &extracted.baggage, &mut outgoing);
/// assert!(outgoing["traceparent"].to_str()?.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// assert_eq!(outgoing["baggage"], "userId=alice");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Propagator {
    order: [Format; Format::ALL.len()],
    len: u8,
}

impl Default for Propagator {
    fn default() -> Self {
        Self::new([Format::TraceContext, Format::Baggage])
    }
}

impl Propagator {
    /// The environment variable [`from_env`](Self::from_env) reads.
    pub const ENV: &'static str = "OTEL_PROPAGATORS";

    /// A propagator for `formats`, in order; repeats are ignored.
    pub fn new(formats: impl IntoIterator<Item = Format>) -> Self {
        let mut propagator = Self::none();
        for format in formats {
            if !propagator.formats().any(|f| f == format) {
                propagator.order[propagator.len as usize] = format;
                propagator.len += 1;
            }
        }
        propagator
    }

    /// A propagator that reads and writes nothing (`none`).
    pub const fn none() -> Self {
        Self { order: [Format::TraceContext; Format::ALL.len()], len: 0 }
    }

    /// Reads `OTEL_PROPAGATORS`; unset or empty means the default.
    pub fn from_env() -> Result<Self, PropagatorConfigError> {
        match std::env::var(Self::ENV) {
            Ok(value) => value.parse(),
            Err(std::env::VarError::NotPresent) => Ok(Self::default()),
            Err(std::env::VarError::NotUnicode(_)) => Err(PropagatorConfigError::NotUnicode),
        }
    }

    /// The formats, in order.
    pub fn formats(&self) -> impl Iterator<Item = Format> + '_ {
        self.order[..self.len as usize].iter().copied()
    }

    /// Whether `format` is one of the formats.
    pub fn has(&self, format: Format) -> bool {
        self.formats().any(|f| f == format)
    }

    /// Every field the formats read or write.
    pub fn fields(&self) -> impl Iterator<Item = &'static Field> + '_ {
        self.formats().flat_map(|f| f.fields())
    }

    /// Reads the trace context and baggage from `carrier`.
    ///
    /// Never fails: a field that is present but invalid is ignored (an invalid
    /// `traceparent` restarts the trace, an invalid `tracestate` is dropped and
    /// the `traceparent` kept) and reported in [`Extracted::errors`].
    pub fn extract(&self, carrier: &(impl Extractor + ?Sized)) -> Extracted {
        let mut extracted = Extracted::default();
        for format in self.formats() {
            // The statics, not the `Field` constants: no temporary per lookup.
            let fields = format.fields();
            match format {
                Format::TraceContext => {
                    extract_trace_context(carrier, &fields[0], &fields[1], &mut extracted);
                }
                Format::Baggage => {
                    let (baggage, errors) = Baggage::from_lines(carrier.get_all(&fields[0]));
                    extracted.add_baggage(baggage);
                    extracted.errors.extend(errors.into_iter().map(ExtractError::Baggage));
                }
                Format::B3 => {
                    let b3 = single_line(carrier, &fields[0])
                        .and_then(|line| line.map(B3::parse_single).transpose());
                    extracted.set_b3(b3);
                }
                Format::B3Multi => extracted.set_b3(extract_b3_multi(carrier, fields)),
                Format::Jaeger => {
                    match Jaeger::from_lines(carrier.get_all(&fields[0])) {
                        Ok(Some(jaeger)) => extracted.trace = Some(TraceContext::new(jaeger.trace_parent())),
                        Ok(None) => {}
                        Err(error) => extracted.errors.push(ExtractError::Jaeger(error)),
                    }
                    extract_jaeger_baggage(carrier, &mut extracted);
                }
                Format::XRay => match XRay::from_lines(carrier.get_all(&fields[0])) {
                    Ok(xray) => {
                        if let Some(parent) = xray.and_then(|xray| xray.trace_parent()) {
                            extracted.trace = Some(TraceContext::new(parent));
                        }
                    }
                    Err(error) => extracted.errors.push(ExtractError::XRay(error)),
                },
            }
        }
        extracted
    }

    /// Writes `trace` and `baggage` into `carrier` in every format.
    ///
    /// Without a trace, no trace field is written. An empty `tracestate` or
    /// baggage is never written; a stale `tracestate` is removed so it cannot
    /// contradict the new `traceparent`. `jaeger` writes each baggage member
    /// as `uberctx-{key}` (the value percent-encoded, the properties left
    /// out, which Jaeger has no place for; a later member replaces an earlier
    /// one of the same key).
    pub fn inject(
        &self,
        trace: Option<&TraceContext>,
        baggage: &Baggage,
        carrier: &mut (impl Injector + ?Sized),
    ) {
        for format in self.formats() {
            match (format, trace) {
                (Format::TraceContext, Some(trace)) => {
                    carrier.set(&Field::TRACEPARENT, &trace.traceparent.encode());
                    if trace.tracestate.is_empty() {
                        carrier.remove(&Field::TRACESTATE);
                    } else {
                        carrier.set(&Field::TRACESTATE, trace.tracestate.as_str());
                    }
                }
                (Format::B3, Some(trace)) => {
                    let header = b3::encode_single(&trace.traceparent);
                    carrier.set(&Field::B3, std::str::from_utf8(&header).unwrap_or_default());
                }
                (Format::B3Multi, Some(trace)) => {
                    let parent = &trace.traceparent;
                    let mut trace_id = [0u8; 32];
                    parent.trace_id().encode_hex(&mut trace_id);
                    let mut span_id = [0u8; 16];
                    parent.parent_id().encode_hex(&mut span_id);
                    let sampled = if parent.flags().is_sampled() { "1" } else { "0" };
                    carrier.set(&Field::X_B3_TRACE_ID, std::str::from_utf8(&trace_id).unwrap_or_default());
                    carrier.set(&Field::X_B3_SPAN_ID, std::str::from_utf8(&span_id).unwrap_or_default());
                    carrier.set(&Field::X_B3_SAMPLED, sampled);
                    // We are the parent now; the caller's parent is not ours to send.
                    carrier.remove(&Field::X_B3_PARENT_SPAN_ID);
                }
                (Format::Baggage, _) if !baggage.is_empty() => {
                    carrier.set(&Field::BAGGAGE, &baggage.to_header_value());
                }
                (Format::Jaeger, trace) => {
                    if let Some(trace) = trace {
                        let header = jaeger::encode(&trace.traceparent);
                        carrier.set(&Field::UBER_TRACE_ID, std::str::from_utf8(&header).unwrap_or_default());
                    }
                    inject_jaeger_baggage(baggage, carrier);
                }
                (Format::XRay, Some(trace)) => {
                    let header = xray::encode(&trace.traceparent);
                    carrier.set(&Field::X_AMZN_TRACE_ID, std::str::from_utf8(&header).unwrap_or_default());
                }
                _ => {}
            }
        }
    }
}

fn extract_trace_context(
    carrier: &(impl Extractor + ?Sized),
    traceparent: &Field,
    tracestate: &Field,
    extracted: &mut Extracted,
) {
    match TraceParent::from_lines(carrier.get_all(traceparent)) {
        Ok(Some(traceparent)) => {
            // Only a valid traceparent makes the tracestate worth reading.
            let tracestate = TraceState::from_lines(carrier.get_all(tracestate)).unwrap_or_else(|error| {
                extracted.errors.push(ExtractError::TraceState(error));
                TraceState::new()
            });
            extracted.trace = Some(TraceContext { traceparent, tracestate });
        }
        Ok(None) => {}
        Err(error) => extracted.errors.push(ExtractError::TraceParent(error)),
    }
}

/// Adds the `uberctx-{key}` headers to the baggage, in the carrier's order.
fn extract_jaeger_baggage(carrier: &(impl Extractor + ?Sized), extracted: &mut Extracted) {
    for (index, (name, value)) in carrier.get_prefixed(jaeger::UBERCTX_PREFIX).enumerate() {
        let member = jaeger::baggage_member(name, value, index)
            .and_then(|member| extracted.baggage.insert_member(member).map_err(|error| error.at(index)));
        if let Err(error) = member {
            extracted.errors.push(ExtractError::Baggage(error));
        }
    }
}

fn inject_jaeger_baggage(baggage: &Baggage, carrier: &mut (impl Injector + ?Sized)) {
    let mut name = String::new();
    let mut value = String::new();
    for member in baggage {
        name.clear();
        name.push_str(jaeger::UBERCTX_PREFIX);
        name.push_str(member.key());
        value.clear();
        percent::encode_into(member.value(), &mut value);
        carrier.set_named(&name, &value);
    }
}

fn extract_b3_multi(carrier: &(impl Extractor + ?Sized), fields: &[Field]) -> Result<Option<B3>, B3Error> {
    B3::from_multi(B3MultiHeaders {
        trace_id: single_line(carrier, &fields[0])?,
        span_id: single_line(carrier, &fields[1])?,
        parent_span_id: single_line(carrier, &fields[2])?,
        sampled: single_line(carrier, &fields[3])?,
        flags: single_line(carrier, &fields[4])?,
    })
}

/// The one value of a B3 field, which must not repeat.
fn single_line<'a, C: Extractor + ?Sized>(
    carrier: &'a C,
    field: &Field,
) -> Result<Option<&'a [u8]>, B3Error> {
    let mut lines = carrier.get_all(field);
    let first = lines.next();
    match lines.next() {
        Some(_) => Err(B3Error::Duplicate),
        None => Ok(first),
    }
}

impl FromStr for Propagator {
    type Err = PropagatorConfigError;

    /// Parses an `OTEL_PROPAGATORS` value: comma-separated names, case-insensitive.
    /// Empty means the default; `none` alone means no propagation.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let names: Vec<&str> = value.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            return Ok(Self::default());
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case("none")) {
            return if names.len() == 1 {
                Ok(Self::none())
            } else {
                Err(PropagatorConfigError::NoneWithOthers)
            };
        }
        let mut formats = Vec::with_capacity(names.len());
        for name in names {
            formats.push(name.parse::<Format>().map_err(|error| match error {
                PropagatorConfigError::Unknown(name) if name.eq_ignore_ascii_case("ottrace") => {
                    PropagatorConfigError::Unsupported(name)
                }
                other => other,
            })?);
        }
        Ok(Self::new(formats))
    }
}

impl fmt::Display for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("none");
        }
        for (i, format) in self.formats().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(format.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Propagator({self})")
    }
}

/// What [`Propagator::extract`] found.
#[derive(Clone, Debug, Default)]
pub struct Extracted {
    /// The caller's trace position; `None` starts a new trace.
    pub trace: Option<TraceContext>,
    /// The caller's baggage.
    pub baggage: Baggage,
    /// Fields that were present but ignored, for diagnostics.
    pub errors: Vec<ExtractError>,
}

impl Extracted {
    /// The baggage of a later format: the whole of it when nothing was read
    /// before, otherwise member by member, each replacing its key.
    fn add_baggage(&mut self, baggage: Baggage) {
        if self.baggage.is_empty() {
            self.baggage = baggage;
            return;
        }
        for member in baggage {
            if let Err(error) = self.baggage.insert_member(member) {
                self.errors.push(ExtractError::Baggage(error));
            }
        }
    }

    fn set_b3(&mut self, b3: Result<Option<B3>, B3Error>) {
        match b3.map(|b3| b3.and_then(|b3| b3.trace_parent())) {
            Ok(Some(traceparent)) => self.trace = Some(TraceContext::new(traceparent)),
            Ok(None) => {}
            Err(error) => self.errors.push(ExtractError::B3(error)),
        }
    }
}

/// A field that was present but ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractError {
    /// The `traceparent` was invalid: the trace restarts.
    TraceParent(TraceParentError),
    /// The `tracestate` was invalid and dropped; the `traceparent` was kept.
    TraceState(TraceStateError),
    /// A baggage member was dropped.
    Baggage(BaggageError),
    /// The B3 headers were invalid.
    B3(B3Error),
    /// The `uber-trace-id` was invalid.
    Jaeger(JaegerError),
    /// The `X-Amzn-Trace-Id` was invalid.
    XRay(XRayError),
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TraceParent(e) => e.fmt(f),
            Self::TraceState(e) => e.fmt(f),
            Self::Baggage(e) => e.fmt(f),
            Self::B3(e) => e.fmt(f),
            Self::Jaeger(e) => e.fmt(f),
            Self::XRay(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExtractError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(match self {
            Self::TraceParent(e) => e,
            Self::TraceState(e) => e,
            Self::Baggage(e) => e,
            Self::B3(e) => e,
            Self::Jaeger(e) => e,
            Self::XRay(e) => e,
        })
    }
}

/// An `OTEL_PROPAGATORS` value that cannot be honoured.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorConfigError {
    /// A name no OpenTelemetry SDK knows.
    Unknown(String),
    /// A name OpenTelemetry defines that throughline does not implement.
    Unsupported(String),
    /// `none` appears next to other names.
    NoneWithOthers,
    /// The variable is not valid Unicode.
    NotUnicode,
}

impl fmt::Display for PropagatorConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", Propagator::ENV)?;
        match self {
            Self::Unknown(name) => {
                write!(
                    f,
                    "unknown propagator {name:?}; expected tracecontext, baggage, b3, b3multi, jaeger, xray or none"
                )
            }
            Self::Unsupported(name) => {
                write!(
                    f,
                    "propagator {name:?} is not supported; use tracecontext, baggage, b3, b3multi, jaeger or xray"
                )
            }
            Self::NoneWithOthers => f.write_str("\"none\" cannot be combined with other propagators"),
            Self::NotUnicode => f.write_str("the value is not valid Unicode"),
        }
    }
}

impl std::error::Error for PropagatorConfigError {}

#[cfg(feature = "opentelemetry")]
impl Propagator {
    /// Every combination's field names, for `TextMapPropagator::fields`, which
    /// must borrow owned `String`s.
    pub(crate) fn field_names(&self) -> &'static [String] {
        use std::sync::LazyLock;
        static NAMES: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
            (0..1u8 << Format::ALL.len())
                .map(|bits| {
                    Format::ALL
                        .into_iter()
                        .filter(|f| bits & f.bit() != 0)
                        .flat_map(|f| f.fields())
                        .map(|field| field.as_str().to_owned())
                        .collect()
                })
                .collect()
        });
        let bits = self.formats().fold(0, |bits, f| bits | f.bit());
        &NAMES[bits as usize]
    }
}
