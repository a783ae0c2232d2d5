//! [`ClientRequest`]: what the client instrumentation reads from an
//! outgoing request, whatever the client's request type.

use std::fmt::Write as _;

use http::{Extensions, Method, Uri, Version};

use super::extensions::{SuppressPropagation, UrlTemplate};
use crate::semconv::{QueryRedaction, ValueLength};

/// An outgoing request as the instrumentation sees it: borrowed pieces, so
/// an `http::Request` and a `reqwest::Request` (whose URL is a `url::Url`)
/// are read alike and nothing is copied before the sampler has spoken.
///
/// The userinfo of the URL is never part of it: `url.full` cannot carry a
/// password.
///
/// ```
/// use http::{Method, Uri};
/// use throughline_tower::client::ClientRequest;
///
/// let uri: Uri = "https://user:secret@api.example.com/v1/items?id=7".parse()?;
/// let request = ClientRequest::from_uri(&Method::GET, &uri);
/// assert_eq!((request.host, request.port(), request.path), ("api.example.com", 443, "/v1/items"));
/// # Ok::<(), http::uri::InvalidUri>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClientRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// `http` or `https` (anything else is recorded as it is).
    pub scheme: &'a str,
    /// The host, as in the URL (an IPv6 address in brackets or not).
    pub host: &'a str,
    /// The port written in the URL, if any; the scheme's default otherwise.
    pub explicit_port: Option<u16>,
    /// The path, `/` when empty.
    pub path: &'a str,
    /// The query, without `?`, not yet redacted.
    pub query: Option<&'a str>,
    /// The HTTP version the request asks for.
    pub version: Version,
    /// The request's extensions: [`UrlTemplate`], [`SuppressPropagation`],
    /// throughline-core's `ResendCount` and `Deadline`.
    pub extensions: Option<&'a Extensions>,
    /// How many times this request was sent before (0 for the first send).
    pub resend_count: u32,
}

impl<'a> ClientRequest<'a> {
    /// A request to `uri`, which must be absolute for `server.address` and
    /// `url.full` to be known.
    pub fn from_uri(method: &'a Method, uri: &'a Uri) -> Self {
        Self {
            method,
            scheme: uri.scheme_str().unwrap_or("http"),
            host: uri.host().unwrap_or_default(),
            explicit_port: uri.port_u16(),
            path: if uri.path().is_empty() { "/" } else { uri.path() },
            query: uri.query(),
            version: Version::HTTP_11,
            extensions: None,
            resend_count: 0,
        }
    }

    /// The request of `parts`, with its version and extensions (and the
    /// resend count they carry).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        let mut request = Self::from_uri(&parts.method, &parts.uri).with_extensions(&parts.extensions);
        request.version = parts.version;
        request
    }

    /// Reads the [`UrlTemplate`], [`SuppressPropagation`] and resend count
    /// from `extensions`.
    pub fn with_extensions(mut self, extensions: &'a Extensions) -> Self {
        self.extensions = Some(extensions);
        if let Some(throughline_core::ResendCount(resends)) = extensions.get() {
            self.resend_count = *resends;
        }
        self
    }

    /// The port the request goes to: the explicit one, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.explicit_port.unwrap_or(if self.scheme.eq_ignore_ascii_case("https") { 443 } else { 80 })
    }

    /// The host without the brackets of an IPv6 literal: `server.address`.
    pub fn address(&self) -> &'a str {
        self.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(self.host)
    }

    pub(crate) fn template(&self) -> Option<&'a UrlTemplate> {
        self.extensions?.get::<UrlTemplate>()
    }

    pub(crate) fn suppressed(&self) -> bool {
        self.extensions.is_some_and(|extensions| extensions.get::<SuppressPropagation>().is_some())
    }

    /// `url.full`: scheme, host, the explicit port, path and the redacted
    /// query; never the userinfo, never the fragment (it is not sent).
    pub fn url_full(&self, redaction: &QueryRedaction) -> String {
        // Cut before the redaction scans it.
        let query = self.query.map(|query| redaction.redact(ValueLength::from_env().cap(query)));
        let mut url = String::with_capacity(
            self.scheme.len()
                + self.host.len()
                + self.path.len()
                + query.as_ref().map_or(0, |q| q.len())
                + 16,
        );
        url.push_str(self.scheme);
        url.push_str("://");
        // A bare IPv6 address needs its brackets back inside a URL.
        if self.host.contains(':') && !self.host.starts_with('[') {
            let _ = write!(url, "[{}]", self.host);
        } else {
            url.push_str(self.host);
        }
        if let Some(port) = self.explicit_port {
            let _ = write!(url, ":{port}");
        }
        url.push_str(self.path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(&query);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full_drops_userinfo_and_redacts_the_query() {
        let uri: Uri = "http://alice:pw@[::1]:8080/a?sig=x&b=2".parse().unwrap();
        let request = ClientRequest::from_uri(&Method::GET, &uri);
        assert_eq!(request.url_full(&QueryRedaction::default()), "http://[::1]:8080/a?sig=REDACTED&b=2");
        assert_eq!((request.address(), request.port()), ("::1", 8080));
    }

    #[test]
    fn an_empty_path_is_the_root() {
        let uri: Uri = "https://example.com".parse().unwrap();
        let request = ClientRequest::from_uri(&Method::GET, &uri);
        assert_eq!(request.url_full(&QueryRedaction::none()), "https://example.com/");
    }
}
