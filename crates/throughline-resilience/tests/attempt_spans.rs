//! The attempt spans, through a capturing tracing layer. Alone in its test
//! binary: tracing caches per callsite whether any subscriber is interested,
//! and a test running in parallel without a subscriber can make that cache
//! say "never" for the attempt spans before this test's subscriber exists.

mod support;

use support::status_server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{Backoff, HttpClassifier, Policy};
use tower::{Layer, Service, ServiceExt};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// A span's fields as (name, value).
type SpanFields = Vec<(String, String)>;

/// Records each `resilience.attempt` span's fields.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanFields>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "resilience.attempt" {
            let mut fields = Vec::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }

    fn on_record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>, _: Context<'_, S>) {
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            values.record(&mut Fields(last));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_a_span_with_its_number_reason_and_resend_count() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(spans.clone()));
    let policy = Policy::builder("spans")
        .retry(
            RetryConfig::new("spans")
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(1)))
                .without_budget(),
        )
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let mut client = policy.layer().layer(status_server(vec![503, 429]));
    client.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await.unwrap();
    let spans = spans.0.lock().unwrap().clone();
    let field = |span: &SpanFields, name: &str| span.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(spans.len(), 3);
    assert_eq!(field(&spans[0], "resilience.attempt").as_deref(), Some("1"));
    assert_eq!(field(&spans[0], "http.request.resend_count"), None);
    assert_eq!(field(&spans[1], "resilience.retry.reason").as_deref(), Some("http 503"));
    assert_eq!(field(&spans[1], "http.request.resend_count").as_deref(), Some("1"));
    assert_eq!(field(&spans[2], "resilience.attempt").as_deref(), Some("3"));
    assert_eq!(field(&spans[2], "resilience.retry.reason").as_deref(), Some("http 429"));
    assert_eq!(field(&spans[2], "http.request.resend_count").as_deref(), Some("2"));
}
