//! tracing-subscriber's own formats, redacted by wrapping their formatters.

#[path = "support/lines.rs"]
mod lines;

use throughline_subscriber::{Redacted, Redaction};
use tracing_subscriber::fmt::format::{DefaultFields, PrettyFields};
use tracing_subscriber::prelude::*;

use self::lines::Lines;

const SECRETS: [&str; 4] = ["hunter2", "4111111111111111", "jane@example.com", "eyJhbGciOiJIUzI1NiJ9"];

fn log_secrets() {
    let _span = tracing::info_span!("login", user = "jane@example.com", password = "hunter2").entered();
    tracing::info!(
        card = 4111111111111111_u64,
        token = "eyJhbGciOiJIUzI1NiJ9",
        cart = ?["jane@example.com"],
        count = 3,
        "receipt for {}",
        "jane@example.com"
    );
}

#[test]
fn pretty_output_shows_no_secret() {
    let (lines, policy) = (Lines::default(), Redaction::default());
    let layer = tracing_subscriber::fmt::layer()
        .event_format(Redacted::new(
            tracing_subscriber::fmt::format().pretty().with_ansi(false),
            policy.clone(),
        ))
        .fmt_fields(Redacted::new(PrettyFields::new(), policy))
        .with_ansi(false)
        .with_writer(lines.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log_secrets);
    let text = lines.text();
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("receipt for [REDACTED]"), "{text}");
    assert!(text.contains("count: 3"), "other fields are untouched:\n{text}");
    assert!(text.contains("cart: [\"[REDACTED]\"]"), "Debug values stay unquoted:\n{text}");
}

#[test]
fn compact_output_shows_no_secret() {
    let lines = Lines::default();
    let layer = tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(false)
        .fmt_fields(Redacted::new(DefaultFields::new(), Redaction::default()))
        .with_writer(lines.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log_secrets);
    let text = lines.text();
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("password=[REDACTED]") && text.contains("count=3"), "{text}");
}

#[test]
fn an_event_with_an_explicit_parent_keeps_it_through_the_wrapper() {
    let lines = Lines::default();
    let layer = tracing_subscriber::fmt::layer()
        .event_format(Redacted::new(tracing_subscriber::fmt::format().with_ansi(false), Redaction::default()))
        .with_writer(lines.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let job = tracing::info_span!("job");
        tracing::info!(parent: &job, email = "a@b.io", "done");
        tracing::info!(parent: None, "detached");
    });
    let text = lines.text();
    assert!(text.contains(" job: ") && text.contains("email=\"[REDACTED]\""), "{text}");
    assert!(!text.lines().nth(1).unwrap().contains("job"), "{text}");
}
