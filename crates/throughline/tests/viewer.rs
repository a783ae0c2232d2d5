//! `Init::viewer` feeds a viewer in-process, and a service serves its UI at
//! `/debug/traces` to loopback callers only. One scenario per test binary:
//! `install` sets process-wide globals once.
#![cfg(feature = "viewer")]

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use throughline::Init;
use throughline::viewer::{Access, TraceQuery, Viewer};
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_shows_its_own_traces_at_debug_traces() {
    let vars = HashMap::from([
        ("OTEL_SERVICE_NAME", "shop"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("THROUGHLINE_LOG_FORMAT", "off"),
    ]);
    let viewer = Viewer::default();
    let telemetry = Init::from_vars(&vars).unwrap().viewer(&viewer).install().unwrap();
    tracing::info_span!("checkout", password = "hunter2").in_scope(|| {
        tracing::info_span!("charge").in_scope(|| tracing::warn!("card declined"));
    });

    // The spans arrive synchronously, with the service's resource, and the
    // log record under its span, with no exporter configured.
    let traces = viewer.traces(&TraceQuery::default());
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_eq!(
        (traces[0].root_service.as_str(), traces[0].root_name.as_str(), traces[0].spans),
        ("shop", "checkout", 2)
    );
    let (_, logs) = viewer.trace(&traces[0].trace_id.parse().unwrap()).unwrap();
    assert_eq!(logs.len(), 1);

    let app = axum::Router::new().nest("/debug/traces", viewer.debug_router(Access::Loopback));
    let get = |peer: &str, uri: String| {
        let mut request = axum::http::Request::get(uri).body(Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        app.clone().oneshot(request)
    };
    let page = get("127.0.0.1:40000", format!("/debug/traces/trace/{}", traces[0].trace_id)).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = String::from_utf8(axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap().to_vec())
        .unwrap();
    assert!(html.contains("card declined"));
    assert!(!html.contains("hunter2"), "the viewer sees spans after redaction");
    let outside = get("192.0.2.10:40000", "/debug/traces".to_owned()).await.unwrap();
    assert_eq!(outside.status(), 404);
    telemetry.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
}
