//! Opt-in capture of named headers as `http.request.header.<name>` and
//! `http.response.header.<name>`.

use http::{HeaderMap, HeaderName, header};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

use super::ValueLength;

/// Headers that carry credentials: never captured, whatever is configured.
///
/// The standard ones (`authorization`, `proxy-authorization`, `cookie`,
/// `set-cookie`) and the common non-standard ones: API keys, auth and
/// session tokens, CSRF tokens, the AWS and Google credentials, and the
/// identity headers an authenticating proxy adds.
pub const SENSITIVE_HEADERS: [HeaderName; 18] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("api-key"),
    HeaderName::from_static("x-auth-token"),
    HeaderName::from_static("x-access-token"),
    HeaderName::from_static("x-refresh-token"),
    HeaderName::from_static("x-session-token"),
    HeaderName::from_static("x-csrf-token"),
    HeaderName::from_static("x-xsrf-token"),
    HeaderName::from_static("x-amz-security-token"),
    HeaderName::from_static("x-amz-credential"),
    HeaderName::from_static("x-goog-api-key"),
    HeaderName::from_static("x-forwarded-access-token"),
    HeaderName::from_static("x-forwarded-authorization"),
    HeaderName::from_static("x-vault-token"),
];

/// Which message a [`HeaderCapture`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// `http.request.header.<name>`.
    Request,
    /// `http.response.header.<name>`.
    Response,
}

/// A list of header names to record as span attributes, each as an array of
/// its values (a header may repeat), as the semantic conventions say.
///
/// Names in [`SENSITIVE_HEADERS`] are dropped from the list. Values that are
/// not visible ASCII are skipped.
///
/// ```
/// use throughline_tower::semconv::{HeaderCapture, Message};
///
/// let capture = HeaderCapture::new(Message::Request, [http::HeaderName::from_static("x-api-key")]);
/// assert!(capture.is_empty());
/// ```
///
/// ```
/// use http::{HeaderMap, HeaderName};
/// use throughline_tower::semconv::{HeaderCapture, Message};
///
/// let capture = HeaderCapture::new(
///     Message::Request,
///     [HeaderName::from_static("x-request-id"), http::header::AUTHORIZATION],
/// );
/// let mut headers = HeaderMap::new();
/// headers.insert("x-request-id", "42".parse()?);
/// headers.insert("authorization", "Bearer s3cr3t".parse()?);
/// let attributes: Vec<_> = capture.attributes(&headers).collect();
/// assert_eq!(attributes.len(), 1);
/// assert_eq!(attributes[0].key.as_str(), "http.request.header.x-request-id");
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct HeaderCapture {
    headers: Vec<(HeaderName, Key)>,
}

impl HeaderCapture {
    /// Captures `names` from `message`, less the sensitive ones.
    pub fn new(message: Message, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let prefix = match message {
            Message::Request => "http.request.header.",
            Message::Response => "http.response.header.",
        };
        let mut headers: Vec<(HeaderName, Key)> = Vec::new();
        for name in names {
            if SENSITIVE_HEADERS.contains(&name) || headers.iter().any(|(known, _)| *known == name) {
                continue;
            }
            let key = Key::from(format!("{prefix}{}", name.as_str()));
            headers.push((name, key));
        }
        Self { headers }
    }

    /// Whether nothing is captured.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The attributes for the configured headers present in `headers`, each
    /// value cut to the process's [`ValueLength`].
    pub fn attributes<'a>(&'a self, headers: &'a HeaderMap) -> impl Iterator<Item = KeyValue> + 'a {
        let limit = ValueLength::from_env();
        self.headers.iter().filter_map(move |(name, key)| {
            let values: Vec<StringValue> = headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .map(|value| StringValue::from(limit.cap(value).to_owned()))
                .collect();
            (!values.is_empty()).then(|| KeyValue::new(key.clone(), Value::Array(Array::String(values))))
        })
    }
}
