//! `Forwarded` and `X-Forwarded-*` are believed only from a trusted caller:
//! from anyone else, the addresses and the scheme are the connection's own.

mod support;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use support::{WAIT, layer, serve};
use throughline_testing::{Capture, Spans};
use throughline_tower::server::TrustPolicy;

/// The spans of one request that claims, through every forwarding header,
/// to come from elsewhere.
async fn claimed(trust: TrustPolicy) -> Spans {
    let capture = Capture::new();
    let _default = capture.set_default();
    let app = Router::new().route("/", get(|| async { "ok" })).layer(layer(&capture).trust(trust));
    let addr = serve(app).await;
    reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-host", "shop.example:8443")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    capture.wait_for_spans(1, WAIT).await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_public_caller_cannot_choose_its_addresses_or_scheme() {
    let spans = claimed(TrustPolicy::public()).await;
    spans
        .one_of_kind(SpanKind::Server)
        .assert_attribute("client.address", "127.0.0.1")
        .assert_attribute("server.address", "127.0.0.1")
        .assert_attribute("url.scheme", "http");
}

#[tokio::test(flavor = "current_thread")]
async fn a_trusted_proxy_reports_the_client_and_the_address_it_was_asked_for() {
    let spans = claimed(TrustPolicy::trusted_peers(|ip| ip.is_loopback())).await;
    spans
        .one_of_kind(SpanKind::Server)
        .assert_attribute("client.address", "203.0.113.9")
        .assert_attribute("server.address", "shop.example")
        .assert_attribute("server.port", 8443)
        .assert_attribute("url.scheme", "https");
}
