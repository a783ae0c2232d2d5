//! [reqwest-middleware] middleware that makes reqwest calls observable and
//! resilient: a client span per request by the OpenTelemetry HTTP semantic
//! conventions, the W3C context injected into the request headers, and
//! `http.client.request.duration` and `http.client.active_requests`; with the `resilience` feature, retries,
//! circuit breaking and deadlines with one client span per attempt.
//!
//! ```
//! use reqwest_middleware::ClientBuilder;
//! use throughline_reqwest::{ClientInstrumentation, TracingMiddleware, UrlTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = axum::Router::new().route("/users/{id}", axum::routing::get(|| async { "alice" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! let tracing = TracingMiddleware::with_instrumentation(
//!     // Calls to the payment provider never carry our trace ids.
//!     ClientInstrumentation::new().no_propagation_to(["api.payments.example"]),
//! );
//! let client = ClientBuilder::new(reqwest::Client::new()).with(tracing).build();
//! let response = client
//!     .get(format!("http://{addr}/users/42"))
//!     .with_extension(UrlTemplate::new("/users/{id}")) // span `GET /users/{id}`
//!     .send()
//!     .await?;
//! assert_eq!(response.text().await?, "alice");
//! # Ok(()) }
//! ```
//!
//! With retries, the resilience middleware goes first, outside the tracing
//! one, so that every attempt is its own client span (`resilience` feature):
//!
//! ```
//! # #[cfg(feature = "resilience")] {
//! use reqwest_middleware::ClientBuilder;
//! use throughline_reqwest::{ResilienceMiddleware, TracingMiddleware};
//! use throughline_resilience::{HttpClassifier, Policy};
//! use throughline_resilience::retry::RetryConfig;
//!
//! let policy = Policy::builder("inventory")
//!     .retry(RetryConfig::new("inventory").max_attempts(3))
//!     .classifier(HttpClassifier::default())
//!     .build()
//!     .unwrap();
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(ResilienceMiddleware::new(policy))
//!     .with(TracingMiddleware::default())
//!     .build();
//! # let _ = client; }
//! ```
//!
//! What a span records, how the context is propagated (also when the span
//! is filtered out or sampled out) and the options are those of
//! [`throughline_tower::client`], whose [`ClientInstrumentation`] this
//! crate applies to reqwest; reqwest's errors become `error.type` `timeout`,
//! `connect`, `redirect`, `body`, `decode` or `request`.
//!
//! # Features
//!
//! - `resilience`: [`ResilienceMiddleware`].
//!
//! [reqwest-middleware]: https://docs.rs/reqwest-middleware
//! [`ClientInstrumentation`]: throughline_tower::client::ClientInstrumentation

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(feature = "resilience")]
mod resilience;
mod tracing_middleware;

#[cfg(feature = "resilience")]
pub use resilience::{AttemptResponse, ResilienceMiddleware};
pub use throughline_tower::client::{ClientInstrumentation, SuppressPropagation, UrlTemplate};
pub use tracing_middleware::TracingMiddleware;

/// The future `reqwest_middleware::Middleware::handle` returns: what
/// `#[async_trait]` expands to, written out to spare the dependency.
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
