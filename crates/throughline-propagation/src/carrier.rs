//! Carriers: where propagated fields are read from and written to.
//!
//! An [`Extractor`] yields every value of a field, not only the first, because
//! the specs give repeated fields a meaning: two `traceparent` headers restart
//! the trace, several `tracestate` or `baggage` lines are combined in order.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The name of a propagated field, as text and as a ready-made HTTP header name.
///
/// Names are lowercase. The constants cover every field this crate speaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    name: &'static str,
    header: HeaderName,
    /// Whether each request sends a value of its own (it names the sending
    /// span), so that header compression gains nothing by remembering it.
    per_request: bool,
}

impl Field {
    /// W3C Trace Context `traceparent`.
    pub const TRACEPARENT: Field = Field::per_request("traceparent");
    /// W3C Trace Context `tracestate`.
    pub const TRACESTATE: Field = Field::new("tracestate");
    /// W3C `baggage`.
    pub const BAGGAGE: Field = Field::new("baggage");
    /// B3 single header.
    pub const B3: Field = Field::per_request("b3");
    /// B3 multi-header trace id.
    pub const X_B3_TRACE_ID: Field = Field::new("x-b3-traceid");
    /// B3 multi-header span id.
    pub const X_B3_SPAN_ID: Field = Field::per_request("x-b3-spanid");
    /// B3 multi-header parent span id.
    pub const X_B3_PARENT_SPAN_ID: Field = Field::new("x-b3-parentspanid");
    /// B3 multi-header sampling decision.
    pub const X_B3_SAMPLED: Field = Field::new("x-b3-sampled");
    /// B3 multi-header flags (debug).
    pub const X_B3_FLAGS: Field = Field::new("x-b3-flags");
    /// Jaeger trace and span identity.
    pub const UBER_TRACE_ID: Field = Field::per_request("uber-trace-id");
    /// AWS X-Ray trace header (`X-Amzn-Trace-Id`).
    pub const X_AMZN_TRACE_ID: Field = Field::per_request("x-amzn-trace-id");

    /// A field named `name`, which must be a lowercase HTTP token; a bad name
    /// fails to compile when used in a constant.
    pub const fn new(name: &'static str) -> Self {
        Self { name, header: HeaderName::from_static(name), per_request: false }
    }

    /// A field named `name` whose value each request sends anew (it names
    /// the sending span). Written into an [`http::HeaderMap`], such a value
    /// is marked sensitive, which HTTP/2 and HTTP/3 header compression read
    /// as "never index": a value no later request repeats would only take
    /// the place of ones that are repeated (RFC 7541, section 7.1.3), and
    /// indexing it costs both ends. (`HeaderValue`'s `Debug` then prints
    /// `Sensitive` in place of the value.)
    pub const fn per_request(name: &'static str) -> Self {
        Self { name, header: HeaderName::from_static(name), per_request: true }
    }

    /// Whether each request sends a value of its own; see
    /// [`per_request`](Self::per_request).
    pub const fn is_per_request(&self) -> bool {
        self.per_request
    }

    /// The name.
    pub const fn as_str(&self) -> &'static str {
        self.name
    }

    /// The name as an HTTP header name.
    pub const fn header_name(&self) -> &HeaderName {
        &self.header
    }
}

/// Reads fields from a carrier.
pub trait Extractor {
    /// Every value of `field`, in the order the carrier holds them.
    fn get_all<'a>(&'a self, field: &Field) -> impl Iterator<Item = &'a [u8]> + use<'a, Self>;

    /// Every field whose name starts with `prefix` (lowercase, compared
    /// without regard to case), as its name and one value, for formats whose
    /// field names carry data: Jaeger's `uberctx-{key}` baggage.
    ///
    /// The default yields nothing: a carrier that cannot list its fields
    /// carries no such data.
    fn get_prefixed<'a>(
        &'a self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a, Self> {
        let _ = prefix;
        std::iter::empty()
    }
}

/// Writes fields into a carrier.
pub trait Injector {
    /// Sets `field` to `value`, replacing any value it had.
    fn set(&mut self, field: &Field, value: &str);

    /// Removes `field`, so that a stale value cannot contradict a new one.
    fn remove(&mut self, field: &Field);

    /// Sets the field named `name`, which is not known in advance (Jaeger's
    /// `uberctx-{key}`), replacing any value it had. `name` is an HTTP token.
    ///
    /// The default writes nothing: a carrier that only holds known fields
    /// drops such data.
    fn set_named(&mut self, name: &str, value: &str) {
        let _ = (name, value);
    }
}

impl<T: Injector + ?Sized> Injector for &mut T {
    fn set(&mut self, field: &Field, value: &str) {
        (**self).set(field, value);
    }

    fn remove(&mut self, field: &Field) {
        (**self).remove(field);
    }

    fn set_named(&mut self, name: &str, value: &str) {
        (**self).set_named(name, value);
    }
}

/// Whether `name` starts with the lowercase `prefix`, in any case.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.as_bytes().get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Header names are case-insensitive; `http` stores them lowercase.
impl Extractor for HeaderMap {
    fn get_all<'a>(&'a self, field: &Field) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        HeaderMap::get_all(self, &field.header).into_iter().map(HeaderValue::as_bytes)
    }

    fn get_prefixed<'a>(
        &'a self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        self.iter()
            .filter(move |(name, _)| has_prefix(name.as_str(), prefix))
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
    }
}

/// One allocation per field written: the `HeaderValue`.
impl Injector for HeaderMap {
    fn set(&mut self, field: &Field, value: &str) {
        // Propagators only write visible ASCII, which is always a valid value.
        if let Ok(mut value) = HeaderValue::from_str(value) {
            value.set_sensitive(field.per_request);
            self.insert(field.header.clone(), value);
        }
    }

    fn remove(&mut self, field: &Field) {
        HeaderMap::remove(self, &field.header);
    }

    /// Header names are lowercased; a name or value that is not valid in a
    /// header is not written.
    fn set_named(&mut self, name: &str, value: &str) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            self.insert(name, value);
        }
    }
}

/// A plain map, as message headers often are. Keys match without regard to
/// case, so `TraceParent` and `traceparent` in one map are two values.
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get_all<'a>(&'a self, field: &Field) -> impl Iterator<Item = &'a [u8]> + use<'a, S> {
        let name = field.name;
        self.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes())
    }

    fn get_prefixed<'a>(
        &'a self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a, S> {
        self.iter().filter(move |(k, _)| has_prefix(k, prefix)).map(|(k, v)| (k.as_str(), v.as_bytes()))
    }
}

/// Writes lowercase keys and removes keys that differ only in case.
impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, field: &Field, value: &str) {
        Injector::remove(self, field);
        self.insert(field.name.to_owned(), value.to_owned());
    }

    fn remove(&mut self, field: &Field) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(field.name));
    }

    fn set_named(&mut self, name: &str, value: &str) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_ascii_lowercase(), value.to_owned());
    }
}

/// A plain ordered map. Keys match without regard to case.
impl Extractor for BTreeMap<String, String> {
    fn get_all<'a>(&'a self, field: &Field) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let name = field.name;
        self.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes())
    }

    fn get_prefixed<'a>(
        &'a self,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        self.iter().filter(move |(k, _)| has_prefix(k, prefix)).map(|(k, v)| (k.as_str(), v.as_bytes()))
    }
}

/// Writes lowercase keys and removes keys that differ only in case.
impl Injector for BTreeMap<String, String> {
    fn set(&mut self, field: &Field, value: &str) {
        Injector::remove(self, field);
        self.insert(field.name.to_owned(), value.to_owned());
    }

    fn remove(&mut self, field: &Field) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(field.name));
    }

    fn set_named(&mut self, name: &str, value: &str) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_ascii_lowercase(), value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_yields_every_line() {
        let mut headers = HeaderMap::new();
        headers.append("tracestate", HeaderValue::from_static("a=1"));
        headers.append("TraceState", HeaderValue::from_static("b=2"));
        let lines: Vec<_> = Extractor::get_all(&headers, &Field::TRACESTATE).collect();
        assert_eq!(lines, [&b"a=1"[..], b"b=2"]);
    }

    #[test]
    fn fields_by_prefix_and_by_name_ignore_case() {
        let mut map = BTreeMap::new();
        Injector::set_named(&mut map, "UberCtx-Key", "1");
        Injector::set_named(&mut map, "uberctx-key", "2");
        Injector::set_named(&mut map, "uberctx-other", "3");
        map.insert("x-other".to_owned(), "4".to_owned());
        assert_eq!(map.len(), 3, "{map:?}");
        let found: Vec<_> = Extractor::get_prefixed(&map, "uberctx-").collect();
        assert_eq!(found, [("uberctx-key", &b"2"[..]), ("uberctx-other", b"3")]);

        let mut headers = HeaderMap::new();
        Injector::set_named(&mut headers, "UberCtx-Key", "1");
        Injector::set_named(&mut headers, "bad name", "ignored");
        assert_eq!(headers.len(), 1);
        let found: Vec<_> = Extractor::get_prefixed(&headers, "uberctx-").collect();
        assert_eq!(found, [("uberctx-key", &b"1"[..])]);
    }

    #[test]
    fn per_request_values_are_never_indexed_by_header_compression() {
        let mut headers = HeaderMap::new();
        Injector::set(
            &mut headers,
            &Field::TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        Injector::set(&mut headers, &Field::TRACESTATE, "vendor=1");
        Injector::set(&mut headers, &Field::BAGGAGE, "user=alice");
        let sensitive = |name: &str| headers[name].is_sensitive();
        assert!(sensitive("traceparent"), "a new span id each request");
        assert!(!sensitive("tracestate") && !sensitive("baggage"), "repeated from request to request");
    }

    #[test]
    fn map_matches_any_case_and_replaces_on_set() {
        let mut map = HashMap::new();
        map.insert("TraceParent".to_owned(), "x".to_owned());
        assert_eq!(Extractor::get_all(&map, &Field::TRACEPARENT).count(), 1);
        Injector::set(&mut map, &Field::TRACEPARENT, "y");
        assert_eq!(map.len(), 1);
        assert_eq!(map["traceparent"], "y");
    }
}
