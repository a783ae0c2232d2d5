//! Graceful shutdown: in-flight requests complete, new ones are refused, and
//! every span created reaches the receiver.
#![cfg(feature = "init")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use throughline::pipeline::Pipeline;
use throughline::{Graceful, Lifecycle};
use throughline_testing::OtlpReceiver;
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_in_flight_requests_refuses_new_ones_and_flushes() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = receiver.grpc_endpoint();
    let telemetry = traces_only(&endpoint);
    let tracer = telemetry.tracer_provider().unwrap().tracer("graceful-test");

    let release = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let app = {
        let (release, entered) = (release.clone(), entered.clone());
        Router::new().route(
            "/slow",
            get(move || {
                let (release, entered, tracer) = (release.clone(), entered.clone(), tracer.clone());
                async move {
                    entered.notify_one();
                    release.notified().await;
                    tracer.in_span("slow request", |_cx| {});
                    "done"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let lifecycle = Lifecycle::new();
    let server = tokio::spawn(
        Graceful::default()
            .on_signals(false)
            .lifecycle(lifecycle.clone())
            .drain(Duration::from_secs(10))
            .serve(listener, app, telemetry),
    );

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    entered.notified().await;
    lifecycle.start_draining();
    assert!(lifecycle.is_draining());

    // New connections are refused once the listener has closed.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "new connections are refused while draining");

    release.notify_one();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), "done", "the in-flight request completes");
    server.await.unwrap().unwrap();
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(spans[0].name(), "slow request", "the span it created was flushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_false_while_the_listener_still_accepts_for_the_pre_stop_delay() {
    let vars = HashMap::from([("OTEL_SDK_DISABLED", "true")]);
    let telemetry = Pipeline::from_vars(&vars).unwrap().build().unwrap();
    let app = Router::new().route("/", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let lifecycle = Lifecycle::new();
    let pre_stop = Duration::from_secs(1);
    let server = tokio::spawn(
        Graceful::default()
            .on_signals(false)
            .lifecycle(lifecycle.clone())
            .pre_stop(pre_stop)
            .drain(Duration::from_secs(5))
            .serve(listener, app, telemetry),
    );

    let started = std::time::Instant::now();
    lifecycle.start_draining();
    assert!(lifecycle.is_draining(), "readiness is false at once");
    // A load balancer that has not noticed yet is still served.
    let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");

    server.await.unwrap().unwrap();
    assert!(
        started.elapsed() >= pre_stop,
        "the listener closed before the pre-stop delay: {:?}",
        started.elapsed()
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "then it closed");
}

/// Serves nothing, starts shutdown at once, and returns how `serve` ended,
/// with a collector that never answers.
async fn serve_with_a_stalled_collector(graceful: Graceful) -> Result<(), throughline::ServeError> {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_behaviour(throughline_testing::Behaviour::Stall);
    let endpoint = receiver.grpc_endpoint();
    let telemetry = traces_only(&endpoint);
    telemetry.tracer_provider().unwrap().tracer("graceful-test").in_span("unsent", |_cx| {});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lifecycle = Lifecycle::new();
    lifecycle.start_draining();
    let served = graceful
        .on_signals(false)
        .lifecycle(lifecycle)
        .drain(Duration::ZERO)
        .flush(Duration::from_millis(200))
        .serve(listener, Router::new(), telemetry)
        .await;
    receiver.set_behaviour(throughline_testing::Behaviour::Accept);
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unflushed_telemetry_fails_serve_by_default_and_can_be_made_to_exit_normally() {
    let failed = serve_with_a_stalled_collector(Graceful::default()).await;
    assert!(
        matches!(
            failed,
            Err(throughline::ServeError::Shutdown(throughline::pipeline::ShutdownError::DeadlineExceeded(_)))
        ),
        "{failed:?}"
    );
    serve_with_a_stalled_collector(Graceful::default().fail_on_unflushed(false)).await.unwrap();
}

/// A pipeline exporting spans only, over gRPC to `endpoint`, whose batches
/// leave only when flushed: what shutdown must not lose.
fn traces_only(endpoint: &str) -> throughline::pipeline::Telemetry {
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    Pipeline::from_vars(&vars).unwrap().build().unwrap()
}
