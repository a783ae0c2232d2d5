//! Each scenario, run against an in-memory capture: the span tree it is
//! meant to show is the one that gets exported.

use opentelemetry::trace::Status;
use throughline_testing::Capture;

fn captured(scenario: impl FnOnce()) -> Capture {
    let capture = Capture::new();
    tracing::subscriber::with_default(capture.subscriber(), scenario);
    capture
}

#[test]
fn a_synchronous_tree_nests_children_under_the_entered_span() {
    let spans = captured(basics::sync_tree).spans();
    let checkout = spans.named("checkout");
    spans.named("price").assert_child_of(&checkout);
    spans.named("charge").assert_child_of(&checkout);
}

#[test]
fn instrumented_futures_keep_their_parent_across_awaits() {
    let capture = captured(|| current_thread().block_on(basics::async_instrument()));
    let spans = capture.spans();
    spans.named("load_user").assert_child_of(&spans.named("request")).assert_attribute("id", "7");
}

#[test]
fn a_spawned_task_is_a_new_trace_linked_to_its_cause() {
    let capture = captured(|| current_thread().block_on(basics::follows_from()));
    let spans = capture.spans();
    let (request, cleanup) = (spans.named("request"), spans.named("cleanup"));
    assert_ne!(cleanup.data().span_context.trace_id(), request.data().span_context.trace_id());
    let links = &cleanup.data().links.links;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].span_context.span_id(), request.data().span_context.span_id());
}

#[test]
fn a_span_sent_to_another_thread_parents_the_work_there() {
    let spans = captured(basics::across_threads).spans();
    spans.named("work").assert_child_of(&spans.named("enqueue")).assert_attribute("job", 1);
}

#[test]
fn a_plain_map_carries_the_context_to_the_consumer() {
    opentelemetry::global::set_text_map_propagator(throughline::propagation::Propagator::default());
    let capture = Capture::new();
    let message = tracing::subscriber::with_default(capture.subscriber(), basics::manual_propagation);
    let spans = capture.spans();
    let publish = spans.named("publish");
    spans.named("consume").assert_child_of(&publish);
    let traceparent = &message["traceparent"];
    assert!(traceparent.contains(&publish.data().span_context.span_id().to_string()), "{traceparent}");
}

#[test]
fn a_recorded_error_fails_the_span() {
    let spans = captured(basics::record_error).spans();
    let charge = spans.named("charge");
    charge.assert_error();
    assert!(
        matches!(&charge.data().status, Status::Error { description } if description.is_empty() || description.contains("refused"))
    );
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
}
