//! `Forwarded` and `X-Forwarded-*` are believed only from a trusted caller:
//! from anyone else, the addresses and the scheme are the connection's own.

mod support;

use axum::Router;
use axum::routing::get;
use support::{Telemetry, int, serve, string};
use throughline_tower::server::TrustPolicy;

/// The attributes of the server span for one request that claims, through
/// every forwarding header, to come from elsewhere.
async fn claimed(trust: TrustPolicy) -> Vec<opentelemetry::KeyValue> {
    let telemetry = Telemetry::install();
    let app = Router::new().route("/", get(|| async { "ok" })).layer(telemetry.layer().trust(trust));
    let addr = serve(app).await;
    reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-host", "shop.example:8443")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    telemetry.server_span().await.attributes
}

#[tokio::test(flavor = "current_thread")]
async fn a_public_caller_cannot_choose_its_addresses_or_scheme() {
    let attributes = claimed(TrustPolicy::public()).await;
    assert_eq!(string(&attributes, "client.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(string(&attributes, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(string(&attributes, "url.scheme").as_deref(), Some("http"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_trusted_proxy_reports_the_client_and_the_address_it_was_asked_for() {
    let attributes = claimed(TrustPolicy::trusted_peers(|ip| ip.is_loopback())).await;
    assert_eq!(string(&attributes, "client.address").as_deref(), Some("203.0.113.9"));
    assert_eq!(string(&attributes, "server.address").as_deref(), Some("shop.example"));
    assert_eq!(int(&attributes, "server.port"), Some(8443));
    assert_eq!(string(&attributes, "url.scheme").as_deref(), Some("https"));
}
