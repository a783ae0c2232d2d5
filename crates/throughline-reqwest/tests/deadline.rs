//! The middleware sends what is left of the call's deadline on
//! `request-timeout-ms`: from the request's `Deadline` extension or the
//! current deadline a server layer set, whichever is earlier.

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use throughline_core::{Deadline, deadline};
use throughline_reqwest::TracingMiddleware;

async fn echo_budget() -> (String, ClientWithMiddleware) {
    let app = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move { format!("{:?}", headers.get("request-timeout-ms")) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, ClientBuilder::new(reqwest::Client::new()).with(TracingMiddleware::default()).build())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_earliest_deadline_is_sent_in_milliseconds() {
    let (url, client) = echo_budget().await;
    let sent = |request: reqwest_middleware::RequestBuilder| async move {
        request.send().await.unwrap().text().await.unwrap()
    };
    assert_eq!(sent(client.get(&url)).await, "None");
    let own = client.get(&url).with_extension(Deadline::after(Duration::from_millis(1500)));
    assert_eq!(sent(own).await, r#"Some("1500")"#);
    let inherited = deadline::scope(Deadline::after(Duration::from_millis(700)), async {
        let both = client.get(&url).with_extension(Deadline::after(Duration::from_millis(1500)));
        sent(both).await
    });
    assert_eq!(inherited.await, r#"Some("700")"#);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_header_can_be_renamed_or_turned_off() {
    let (url, _) = echo_budget().await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new().deadline_header(None))
        .build();
    let request = client.get(&url).with_extension(Deadline::after(Duration::from_secs(1)));
    assert_eq!(request.send().await.unwrap().text().await.unwrap(), "None");
}
