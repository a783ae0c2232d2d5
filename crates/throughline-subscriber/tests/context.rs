//! Context storage through its public handle, `SpanFields`.

use throughline_subscriber::{ContextLayer, FieldValue, SpanFields};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

fn dispatch() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(ContextLayer::new()))
}

fn fields_here() -> Vec<(String, String)> {
    let mut all = Vec::new();
    SpanFields::current()
        .expect("inside a span")
        .for_each(|name, value| all.push((name.to_owned(), value.to_string())));
    all
}

#[test]
fn a_late_record_on_an_ancestor_reaches_a_descendant_on_another_thread() {
    let dispatch = dispatch();
    let (request, child) = tracing::dispatcher::with_default(&dispatch, || {
        let request = tracing::info_span!("request", tenant = tracing::field::Empty);
        let child = tracing::info_span!(parent: &request, "child", step = 1);
        (request, child)
    });
    let (recorded, record) = std::sync::mpsc::channel::<()>();
    let reader = {
        let dispatch = dispatch.clone();
        std::thread::spawn(move || {
            let _ = record.recv();
            tracing::dispatcher::with_default(&dispatch, || child.in_scope(fields_here))
        })
    };
    request.record("tenant", "acme");
    recorded.send(()).unwrap();
    assert_eq!(
        reader.join().unwrap(),
        [("step".to_owned(), "1".to_owned()), ("tenant".to_owned(), "acme".to_owned())]
    );
}

#[test]
fn nearer_spans_hide_farther_values_and_each_name_comes_once() {
    tracing::dispatcher::with_default(&dispatch(), || {
        let _a = tracing::info_span!("a", user = "outer", region = "eu").entered();
        let _b = tracing::info_span!("b").entered();
        let _c = tracing::info_span!("c", user = "inner", attempt = 2).entered();
        assert_eq!(
            fields_here(),
            [
                ("user".to_owned(), "inner".to_owned()),
                ("attempt".to_owned(), "2".to_owned()),
                ("region".to_owned(), "eu".to_owned())
            ]
        );
        let fields = SpanFields::current().unwrap();
        assert_eq!(fields.get("user"), Some(FieldValue::from("inner")));
        assert_eq!(fields.get("attempt"), Some(FieldValue::I64(2)));
        assert_eq!(fields.get("missing"), None);
    });
}

#[test]
fn values_keep_their_type_and_debug_values_become_text() {
    tracing::dispatcher::with_default(&dispatch(), || {
        let _span = tracing::info_span!("s", flag = true, big = u128::MAX, ratio = 0.5, cart = ?[1, 2], shown = %"x y")
            .entered();
        let fields = SpanFields::current().unwrap();
        assert_eq!(fields.get("flag"), Some(FieldValue::Bool(true)));
        assert_eq!(fields.get("big"), Some(FieldValue::U128(u128::MAX)));
        assert_eq!(fields.get("ratio"), Some(FieldValue::F64(0.5)));
        assert_eq!(fields.get("cart"), Some(FieldValue::from("[1, 2]")));
        assert_eq!(fields.get("shown"), Some(FieldValue::from("x y")));
    });
}

#[test]
fn outside_any_span_or_without_the_layer_there_are_no_fields() {
    tracing::dispatcher::with_default(&dispatch(), || assert!(SpanFields::current().is_none()));
    let plain = Dispatch::new(tracing_subscriber::registry());
    tracing::dispatcher::with_default(&plain, || {
        tracing::info_span!("s", a = 1).in_scope(|| assert!(SpanFields::current().is_none()));
    });
}

#[test]
fn a_span_without_fields_sees_its_ancestors() {
    tracing::dispatcher::with_default(&dispatch(), || {
        let _a = tracing::info_span!("a", request_id = "r-1").entered();
        let _b = tracing::info_span!("b").entered();
        assert!(!SpanFields::current().unwrap().is_empty());
        assert_eq!(fields_here(), [("request_id".to_owned(), "r-1".to_owned())]);
    });
}
