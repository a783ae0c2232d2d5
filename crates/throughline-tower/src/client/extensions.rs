//! Request extensions a caller sets to shape one client span.

use std::borrow::Cow;

/// The template the URL was built from (`/users/{id}`): recorded as
/// `url.template` and appended to the span name (`GET /users/{id}`), which
/// stays low-cardinality where the URL does not.
///
/// ```
/// use throughline_tower::client::UrlTemplate;
///
/// let mut request = http::Request::get("http://users/users/42").body(())?;
/// request.extensions_mut().insert(UrlTemplate::new("/users/{id}"));
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UrlTemplate(pub Cow<'static, str>);

impl UrlTemplate {
    /// A template, usually a `&'static str`.
    pub fn new(template: impl Into<Cow<'static, str>>) -> Self {
        Self(template.into())
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sends this request without trace context or baggage headers: for calls
/// to third parties that must not see internal trace ids. The client span
/// is still recorded.
///
/// ```
/// use throughline_tower::client::SuppressPropagation;
///
/// let mut request = http::Request::post("https://api.payments.example/charges").body(())?;
/// request.extensions_mut().insert(SuppressPropagation);
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SuppressPropagation;
