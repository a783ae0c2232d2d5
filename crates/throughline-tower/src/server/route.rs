//! `http.route`: the matched route template, never the raw path.

use std::borrow::Cow;
use std::sync::Arc;

use http::request::Parts;

type Extract = dyn for<'a> Fn(&'a Parts) -> Option<Cow<'a, str>> + Send + Sync;

/// Finds the route template (`/users/{id}`) a request matched.
///
/// With the `axum` feature the default reads axum's `MatchedPath`, which
/// axum inserts before the layers of `Router::layer` and
/// `Router::route_layer` run. Another router can insert its own extension
/// and read it here:
///
/// ```
/// use std::borrow::Cow;
/// use http::request::Parts;
/// use throughline_tower::server::{HttpServerLayer, RouteExtractor};
///
/// #[derive(Clone)]
/// struct Template(&'static str); // inserted by the router
///
/// let layer = HttpServerLayer::new().route(RouteExtractor::new(|parts: &Parts| {
///     parts.extensions.get::<Template>().map(|t| Cow::Borrowed(t.0))
/// }));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct RouteExtractor(Option<Arc<Extract>>);

impl RouteExtractor {
    /// A route from `extract`.
    pub fn new(extract: impl for<'a> Fn(&'a Parts) -> Option<Cow<'a, str>> + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(extract)))
    }

    /// No route is ever known: spans are named by the method alone.
    pub const fn none() -> Self {
        Self(None)
    }

    /// axum's `MatchedPath`.
    #[cfg(feature = "axum")]
    pub fn axum() -> Self {
        Self::new(|parts| {
            parts
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map(|matched| Cow::Borrowed(matched.as_str()))
        })
    }

    /// The route of this request, if known.
    pub fn extract<'a>(&self, parts: &'a Parts) -> Option<Cow<'a, str>> {
        self.0.as_ref().and_then(|extract| extract(parts))
    }
}

/// axum's `MatchedPath` with the `axum` feature, no route without it.
impl Default for RouteExtractor {
    fn default() -> Self {
        #[cfg(feature = "axum")]
        return Self::axum();
        #[cfg(not(feature = "axum"))]
        return Self::none();
    }
}

impl std::fmt::Debug for RouteExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "RouteExtractor(..)" } else { "RouteExtractor::none()" })
    }
}
