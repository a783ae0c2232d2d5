//! Deadlines over HTTP: a trusted caller's remaining budget, read by the
//! server layer, goes on from the handler's calls through the client layer,
//! smaller at each hop. On tokio's paused clock, so the budget is exact.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::serve;
use throughline_core::deadline;
use throughline_tower::client::HttpClientLayer;
use throughline_tower::server::{HttpServerLayer, TrustPolicy};
use tower::{Layer, ServiceExt};

/// GETs `url` through the client layer, with `headers`; the status and body.
async fn fetch(url: String, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let client =
        HttpClientLayer::new().layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let response = client.oneshot(request.body(Empty::new()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A hop that works for 100 ms, then calls `next` (if any) and answers with
/// the budget it was given, then what the next hop answered.
async fn hop(next: Option<String>) -> std::net::SocketAddr {
    let handler = move |headers: HeaderMap| {
        let next = next.clone();
        async move {
            let given = headers.get("request-timeout-ms").map(|v| v.to_str().unwrap().to_owned());
            tokio::time::sleep(Duration::from_millis(100)).await;
            let rest = match next {
                Some(next) => fetch(next, &[]).await.1,
                None => String::new(),
            };
            format!("{} {rest}", given.unwrap_or_default()).trim_end().to_owned()
        }
    };
    serve(Router::new().route("/", get(handler)).layer(HttpServerLayer::new())).await
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_budget_shrinks_at_each_of_three_hops() {
    let third = hop(None).await;
    let second = hop(Some(format!("http://{third}/"))).await;
    let first = hop(Some(format!("http://{second}/"))).await;
    let (status, budgets) = fetch(format!("http://{first}/"), &[("request-timeout-ms", "1000")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(budgets, "1000 900 800");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_expired_budget_is_refused_before_the_handler_runs() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = Router::new()
        .route(
            "/",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { "ran" }
            }),
        )
        .layer(HttpServerLayer::new());
    let addr = serve(app).await;
    let (status, _) = fetch(format!("http://{addr}/"), &[("request-timeout-ms", "0")]).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (status, body) = fetch(format!("http://{addr}/"), &[("request-timeout-ms", "5")]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ran"));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_public_callers_budget_is_ignored_and_the_servers_own_limit_caps() {
    let seen = || async { format!("{:?}", deadline::current().map(|d| d.remaining().as_millis())) };
    let public =
        serve(Router::new().route("/", get(seen)).layer(HttpServerLayer::new().trust(TrustPolicy::public())))
            .await;
    assert_eq!(fetch(format!("http://{public}/"), &[("request-timeout-ms", "0")]).await.1, "None");

    let capped = serve(
        Router::new()
            .route("/", get(seen))
            .layer(HttpServerLayer::new().max_deadline(Duration::from_millis(300))),
    )
    .await;
    assert_eq!(fetch(format!("http://{capped}/"), &[("request-timeout-ms", "1000")]).await.1, "Some(300)");
    assert_eq!(fetch(format!("http://{capped}/"), &[("request-timeout-ms", "200")]).await.1, "Some(200)");
    assert_eq!(fetch(format!("http://{capped}/"), &[]).await.1, "Some(300)");
    assert_eq!(fetch(format!("http://{capped}/"), &[("request-timeout-ms", "soon")]).await.1, "Some(300)");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_deadline_is_sent_to_a_host_excluded_from_propagation() {
    let echo = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move { format!("{:?}", headers.get("request-timeout-ms")) }),
    );
    let addr = serve(echo).await;
    let client = HttpClientLayer::new()
        .no_propagation_to(["127.0.0.1"])
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let request = Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap();
    let sent =
        deadline::scope(throughline_core::Deadline::after(Duration::from_secs(1)), client.oneshot(request));
    let body = sent.await.unwrap().into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "None");
}
