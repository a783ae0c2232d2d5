//! `http.request.method`: the known methods, and `_OTHER` for the rest.

use http::Method;

/// A request method as the semantic conventions record it.
///
/// Only the methods of RFC 9110 and RFC 5789 are recorded as they are; any
/// other method (an extension, or a known one in the wrong case, since
/// methods are case-sensitive) becomes `_OTHER`, with the original kept for
/// `http.request.method_original`. This keeps the method a low-cardinality
/// attribute, fit for metrics.
///
/// ```
/// use http::Method;
/// use throughline_tower::semconv::HttpMethod;
///
/// let get = HttpMethod::new(&Method::GET);
/// assert_eq!((get.as_str(), get.original()), ("GET", None));
///
/// let purge = Method::from_bytes(b"PURGE")?;
/// let other = HttpMethod::new(&purge);
/// assert_eq!((other.as_str(), other.original()), ("_OTHER", Some("PURGE")));
/// assert_eq!(other.span_name(), "HTTP");
/// # Ok::<(), http::method::InvalidMethod>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpMethod<'a> {
    name: &'static str,
    original: Option<&'a str>,
}

impl<'a> HttpMethod<'a> {
    /// The value recorded for methods outside the known set.
    pub const OTHER: &'static str = "_OTHER";

    /// The known set, as the semantic conventions define it by default.
    pub const KNOWN: [&'static str; 9] =
        ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"];

    /// Normalises `method`.
    pub fn new(method: &'a Method) -> Self {
        let original = method.as_str();
        match Self::KNOWN.iter().find(|known| **known == original) {
            Some(known) => Self { name: known, original: None },
            None => Self { name: Self::OTHER, original: Some(original) },
        }
    }

    /// The value of `http.request.method`: a known method or `_OTHER`.
    pub const fn as_str(&self) -> &'static str {
        self.name
    }

    /// The method as received, when it was recorded as `_OTHER`: the value of
    /// `http.request.method_original`.
    pub const fn original(&self) -> Option<&'a str> {
        self.original
    }

    /// Whether the method is outside the known set.
    pub const fn is_other(&self) -> bool {
        self.original.is_some()
    }

    /// The first word of the span name: the method, or `HTTP` for `_OTHER`.
    pub const fn span_name(&self) -> &'static str {
        if self.is_other() { "HTTP" } else { self.name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_method_is_kept() {
        for name in HttpMethod::KNOWN {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(HttpMethod::new(&method).as_str(), name);
        }
    }

    #[test]
    fn a_lowercase_method_is_other() {
        let method = Method::from_bytes(b"get").unwrap();
        let normalised = HttpMethod::new(&method);
        assert_eq!(normalised.as_str(), "_OTHER");
        assert_eq!(normalised.original(), Some("get"));
    }
}
