//! tower middleware that makes HTTP services observable: the caller's W3C
//! trace context continued under a trust policy, a server span per request
//! and the HTTP server metrics, all by the OpenTelemetry semantic
//! conventions; span attributes are built only when the sampler keeps the
//! span.
//!
//! ```
//! use axum::{Router, routing::get};
//! use throughline_tower::server::{HttpServerLayer, Record, TrustPolicy};
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "alice" }))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(
//!         HttpServerLayer::new()
//!             .trust(TrustPolicy::trusted_peers(|ip| ip.is_loopback()))
//!             .filter(|parts| match parts.uri.path() {
//!                 "/health" => Record::NOTHING,
//!                 _ => Record::EVERYTHING,
//!             }),
//!     );
//! # let _ = app;
//! ```
//!
//! - [`server`]: the layer, [`server::HttpServerLayer`]; its module docs
//!   say what a request becomes and what it costs.
//! - [`client`]: the client side, [`client::HttpClientLayer`] for tower
//!   clients and [`client::ClientInstrumentation`], the core that
//!   `throughline-reqwest` shares.
//! - [`semconv`]: the HTTP semantic conventions as plain functions and
//!   types (method normalisation, attribute names old and new, error rules,
//!   query redaction, header capture), shared with the client side.
//!
//! # Features
//!
//! - `axum`: `http.route` from axum's `MatchedPath` by default, and the
//!   peer address from its `ConnectInfo`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

pub mod body;
#[cfg(feature = "bound-metrics")]
pub mod bound;
pub mod client;
mod current;
mod direct_spans;
mod head_sampling;
mod process_wide;
pub mod semconv;
pub mod server;
mod span_start;

/// What `forward_client_setters!` names in another crate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use http::HeaderName;
    pub use opentelemetry::metrics::MeterProvider;
}

/// The instrumentation scope of every span and metric of this crate, client
/// and server side alike.
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
