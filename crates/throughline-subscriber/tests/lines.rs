//! The logfmt and JSON lines: what they hold, how they escape, and that they
//! carry the trace and the request's fields.

#[path = "support/lines.rs"]
mod lines;
#[path = "support/logfmt.rs"]
mod logfmt;

use std::fmt;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::trace::Sampler;
use serde_json::{Value, json};
use throughline_subscriber::{ContextLayer, Json, Logfmt, Redaction};
use throughline_testing::Capture;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

use self::lines::Lines;

fn json_subscriber(lines: &Lines, capture: &Capture) -> impl Subscriber + Send + Sync + 'static {
    tracing_subscriber::registry()
        .with(ContextLayer::new())
        .with(
            Json::default()
                .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
                .layer()
                .with_writer(lines.clone()),
        )
        .with(capture.layer())
}

fn logfmt_subscriber(lines: &Lines, capture: &Capture) -> impl Subscriber + Send + Sync + 'static {
    tracing_subscriber::registry()
        .with(ContextLayer::new())
        .with(Logfmt::default().layer().with_writer(lines.clone()))
        .with(capture.layer())
}

fn assert_keys_in_order(raw: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| raw.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key}: {raw}")))
        .collect();
    assert!(positions.is_sorted(), "keys out of order: {raw}");
}

fn hex_of_span(span: &tracing::Span) -> (String, String) {
    let cx = span.context();
    let otel = cx.span();
    let span_context = otel.span_context();
    (span_context.trace_id().to_string(), span_context.span_id().to_string())
}

#[test]
fn json_lines_hold_level_target_span_message_fields_inherited_fields_and_ids() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let ids = tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let request = tracing::info_span!("request", request_id = "r-42", attempt = 1);
        let _request = request.enter();
        let charge = tracing::info_span!("charge", amount_cents = 1999_u64);
        let _charge = charge.enter();
        tracing::warn!(target: "orders::payments", retry = true, ratio = 0.5, "card declined");
        hex_of_span(&charge)
    });
    let raw = lines.lines().into_iter().find(|l| l.contains("card declined")).unwrap();
    let line = lines.json().into_iter().find(|l| l["message"] == "card declined").unwrap();
    assert_keys_in_order(
        &raw,
        &[
            "timestamp",
            "level",
            "target",
            "span",
            "message",
            "retry",
            "ratio",
            "amount_cents",
            "request_id",
            "attempt",
            "trace_id",
            "span_id",
        ],
    );
    assert_eq!(line.len(), 12, "{raw}");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "orders::payments");
    assert_eq!(line["span"], "charge");
    assert_eq!((line["retry"].clone(), line["ratio"].clone()), (json!(true), json!(0.5)));
    assert_eq!((line["amount_cents"].clone(), line["attempt"].clone()), (json!(1999), json!(1)));
    assert_eq!(line["request_id"], "r-42");
    assert_eq!((line["trace_id"].as_str().unwrap(), line["span_id"].as_str().unwrap()), (&*ids.0, &*ids.1));
    let timestamp = line["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() == 27 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
}

#[test]
fn logfmt_lines_hold_the_same_keys_and_parse_back() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let ids = tracing::subscriber::with_default(logfmt_subscriber(&lines, &capture), || {
        let request = tracing::info_span!("request", request_id = "r-42", path = "/orders/7");
        let _request = request.enter();
        tracing::info!(reason = "insufficient funds", code = 51, "card declined");
        hex_of_span(&request)
    });
    let pairs = logfmt::parse(&lines.lines()[0]).unwrap();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "target",
            "span",
            "message",
            "reason",
            "code",
            "request_id",
            "path",
            "trace_id",
            "span_id"
        ]
    );
    assert_eq!(logfmt::get(&pairs, "message"), Some("card declined"));
    assert_eq!(logfmt::get(&pairs, "reason"), Some("insufficient funds"));
    assert_eq!(logfmt::get(&pairs, "code"), Some("51"));
    assert_eq!(logfmt::get(&pairs, "trace_id"), Some(&*ids.0));
    assert!(lines.lines()[0].contains(" message=\"card declined\" "), "{}", lines.lines()[0]);
}

#[test]
fn the_ids_are_those_of_the_exported_span() {
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(logfmt_subscriber(&lines, &capture), || {
        tracing::info_span!("checkout").in_scope(|| tracing::info!("inside"));
    });
    let exported = capture.spans();
    let checkout = exported.named("checkout").data().span_context.clone();
    let pairs = logfmt::parse(&lines.lines()[0]).unwrap();
    assert_eq!(logfmt::get(&pairs, "trace_id"), Some(&*checkout.trace_id().to_string()));
    assert_eq!(logfmt::get(&pairs, "span_id"), Some(&*checkout.span_id().to_string()));
}

#[test]
fn lines_of_unsampled_spans_carry_ids_too() {
    let (lines, capture) = (Lines::default(), Capture::with_sampler(Sampler::AlwaysOff));
    let ids = tracing::subscriber::with_default(logfmt_subscriber(&lines, &capture), || {
        let span = tracing::info_span!("health check");
        span.in_scope(|| tracing::info!("ok"));
        hex_of_span(&span)
    });
    assert!(capture.spans().is_empty(), "nothing was sampled");
    let pairs = logfmt::parse(&lines.lines()[0]).unwrap();
    assert_ne!(ids.0, "00000000000000000000000000000000");
    assert_eq!(logfmt::get(&pairs, "trace_id"), Some(&*ids.0));
    assert_eq!(logfmt::get(&pairs, "span_id"), Some(&*ids.1));
}

#[test]
fn an_event_with_an_explicit_parent_carries_that_parents_ids_and_fields() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let ids = tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let job = tracing::info_span!("job", job_id = 7);
        let _other = tracing::info_span!("unrelated", job_id = 8).entered();
        tracing::info!(parent: &job, "progress");
        hex_of_span(&job)
    });
    let line = lines.json().into_iter().find(|l| l["message"] == "progress").unwrap();
    assert_eq!(line["span"], "job");
    assert_eq!(line["job_id"], 7);
    assert_eq!((line["trace_id"].as_str().unwrap(), line["span_id"].as_str().unwrap()), (&*ids.0, &*ids.1));
}

#[test]
fn events_outside_any_span_carry_no_ids_and_no_span() {
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        tracing::info!("starting");
        tracing::info_span!("request").in_scope(|| tracing::info!(parent: None, "detached"));
    });
    for line in lines.json().into_iter().filter(|l| l["message"] == "starting" || l["message"] == "detached")
    {
        assert!(
            !line.contains_key("trace_id") && !line.contains_key("span_id") && !line.contains_key("span"),
            "{line:?}"
        );
    }
}

#[test]
fn fields_recorded_late_show_on_lines_of_spans_created_before() {
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let request = tracing::info_span!("request", user_id = tracing::field::Empty);
        let _request = request.enter();
        let child = tracing::info_span!("load cart");
        let _child = child.enter();
        tracing::info!("before");
        request.record("user_id", 1001);
        tracing::info!("after");
    });
    let events = lines.json();
    let line = |message: &str| events.iter().find(|l| l["message"] == message).unwrap().clone();
    assert!(!line("before").contains_key("user_id"));
    assert_eq!(line("after")["user_id"], 1001);
}

#[test]
fn a_nearer_span_hides_a_farther_fields_value_and_the_event_hides_both() {
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let _outer = tracing::info_span!("outer", tenant = "a", region = "eu").entered();
        let _inner = tracing::info_span!("inner", tenant = "b").entered();
        tracing::info!(region = "us", "hello");
    });
    let line = lines.json().into_iter().find(|l| l["message"] == "hello").unwrap();
    assert_eq!((line["tenant"].clone(), line["region"].clone()), (json!("b"), json!("us")));
    let text = lines.text();
    let hello = text.lines().find(|l| l.contains("hello")).unwrap();
    assert_eq!(hello.matches("\"tenant\"").count(), 1, "{hello}");
    assert_eq!(hello.matches("\"region\"").count(), 1, "{hello}");
}

#[test]
fn span_close_lines_carry_latency_and_ids_and_open_lines_carry_no_ids() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let ids = tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let span = tracing::info_span!("request", request_id = "r-1");
        span.in_scope(|| std::thread::sleep(std::time::Duration::from_millis(5)));
        let ids = hex_of_span(&span);
        drop(span);
        ids
    });
    let events = lines.json();
    let open = events.iter().find(|l| l["message"] == "new").unwrap();
    let close = events.iter().find(|l| l["message"] == "close").unwrap();
    for line in [open, close] {
        assert_eq!((line["span"].clone(), line["request_id"].clone()), (json!("request"), json!("r-1")));
        assert!(!line.contains_key("time.busy") && !line.contains_key("time.idle"), "{line:?}");
    }
    assert!(!open.contains_key("trace_id") && !open.contains_key("latency_ms"));
    assert!(close["latency_ms"].as_f64().unwrap() >= 5.0, "{close:?}");
    assert_eq!((close["trace_id"].as_str().unwrap(), close["span_id"].as_str().unwrap()), (&*ids.0, &*ids.1));
    assert_eq!(capture.spans().named("request").data().span_context.trace_id().to_string(), ids.0);
}

#[test]
fn fields_named_like_a_key_of_the_line_are_prefixed() {
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        let _span = tracing::info_span!("request", trace_id = "from a header").entered();
        tracing::info!(level = 3, target = "disk", "raid");
    });
    let line = lines.json().into_iter().find(|l| l["message"] == "raid").unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["field.level"], 3);
    assert_eq!(line["field.target"], "disk");
    assert_eq!(line["field.trace_id"], "from a header");
    assert_eq!(line["trace_id"].as_str().map(str::len), Some(32));
}

#[test]
fn secrets_never_reach_the_line() {
    struct Login {
        email: &'static str,
    }
    impl fmt::Debug for Login {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Written in pieces: the redaction must see the whole value.
            f.write_str("Login { email: ")?;
            f.write_str(&self.email[..4])?;
            f.write_str(&self.email[4..])?;
            f.write_str(" }")
        }
    }
    let secrets =
        ["hunter2", "4111111111111111", "4111 1111 1111 1111", "jane@example.com", "eyJhbGciOiJIUzI1NiJ9"];
    for format in ["json", "logfmt"] {
        let (lines, capture) = (Lines::default(), Capture::new());
        let subscriber = tracing_subscriber::registry()
            .with(ContextLayer::new())
            .with(match format {
                "json" => Json::default().layer().with_writer(lines.clone()).boxed(),
                _ => Logfmt::default().layer().with_writer(lines.clone()).boxed(),
            })
            .with(capture.layer());
        tracing::subscriber::with_default(subscriber, || {
            let _span =
                tracing::info_span!("login", user = "jane@example.com", Password = "hunter2").entered();
            tracing::info!(
                card = 4111111111111111_u64,
                note = "card 4111 1111 1111 1111",
                login = ?Login { email: "jane@example.com" },
                authorization = "Bearer eyJhbGciOiJIUzI1NiJ9",
                "sent receipt to {}",
                "jane@example.com"
            );
        });
        let text = lines.text();
        for secret in secrets {
            assert!(!text.contains(secret), "{format} line leaks {secret:?}: {text}");
        }
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}

#[test]
fn a_policy_of_our_own_replaces_the_default() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let subscriber = tracing_subscriber::registry()
        .with(
            Logfmt::default()
                .with_redaction(Redaction::none().field("pin"))
                .layer()
                .with_writer(lines.clone()),
        )
        .with(capture.layer());
    tracing::subscriber::with_default(subscriber, || tracing::info!(pin = 1234, email = "a@b.io", "set"));
    let pairs = logfmt::parse(&lines.lines()[0]).unwrap();
    assert_eq!(logfmt::get(&pairs, "pin"), Some("[REDACTED]"));
    assert_eq!(logfmt::get(&pairs, "email"), Some("a@b.io"));
}

#[test]
fn a_debug_impl_that_logs_does_not_break_the_line() {
    struct Chatty;
    impl fmt::Debug for Chatty {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            tracing::info!(inner = "nested", "from inside Debug");
            f.write_str("chatty value")
        }
    }
    let (lines, capture) = (Lines::default(), Capture::new());
    tracing::subscriber::with_default(json_subscriber(&lines, &capture), || {
        tracing::info_span!("outer").in_scope(|| tracing::info!(value = ?Chatty, "outer event"));
    });
    let events = lines.json();
    let outer = events.iter().find(|l| l["message"] == "outer event").unwrap();
    assert_eq!(outer["value"], "chatty value");
}

#[test]
fn without_a_timer_the_timestamp_key_is_left_out() {
    let (lines, capture) = (Lines::default(), Capture::new());
    let subscriber = tracing_subscriber::registry()
        .with(Json::default().with_timer(()).layer().with_writer(lines.clone()))
        .with(capture.layer());
    tracing::subscriber::with_default(subscriber, || tracing::info!("no time"));
    assert_eq!(
        Value::Object(lines.json().remove(0)),
        json!({"level": "INFO", "target": "lines", "message": "no time"})
    );
}
