//! The demonstration: what a caller sends, and what the service passes on.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use tokio::net::TcpListener;

type Received = Arc<Mutex<Vec<HeaderMap>>>;

pub(crate) async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let service = TcpListener::bind("127.0.0.1:0").await?;
    let service_addr = service.local_addr()?;
    tokio::spawn(async move { axum::serve(service, w3c_conformance::app()).await });

    let received = Received::default();
    let downstream = TcpListener::bind("127.0.0.1:0").await?;
    let downstream_url = format!("http://{}/downstream", downstream.local_addr()?);
    let app = Router::new().route("/downstream", post(record)).with_state(received.clone());
    tokio::spawn(async move { axum::serve(downstream, app).await });

    let scenarios: [(&str, &[(&str, &str)]); 5] = [
        (
            "a valid context continues the trace with a new parent id",
            &[
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
                ("tracestate", "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE"),
                ("baggage", "userId=alice,serverNode=DF%2028"),
            ],
        ),
        (
            "an unsampled random parent: the flag and every valid member go on",
            &[
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"),
                ("tracestate", "a@b@c=1,foo=1,foo=2"),
            ],
        ),
        (
            "an uppercase trace id restarts the trace",
            &[("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")],
        ),
        (
            "two traceparent headers restart the trace",
            &[
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ],
        ),
        (
            "an invalid tracestate is dropped, the traceparent kept",
            &[
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                ("tracestate", "foo=1,FOO=2"),
            ],
        ),
    ];

    let client = reqwest::Client::new();
    for (title, headers) in scenarios {
        let mut request = client
            .post(format!("http://{service_addr}/test"))
            .header("content-type", "application/json")
            .body(format!(r#"[{{"url": "{downstream_url}", "arguments": []}}]"#));
        println!("\n{title}");
        for (name, value) in headers {
            println!("  caller sent      {name}: {value}");
            request = request.header(*name, *value);
        }
        request.send().await?.error_for_status()?;
        let sent = received.lock().map_err(|_| "poisoned")?.pop().ok_or("no downstream call")?;
        for (name, value) in &sent {
            if ["traceparent", "tracestate", "baggage"].contains(&name.as_str()) {
                println!("  service sent on  {name}: {}", value.to_str().unwrap_or("?"));
            }
        }
    }
    println!("\nRun the official W3C suite against this service: see examples/w3c-conformance/README.md");
    Ok(())
}

async fn record(State(received): State<Received>, headers: HeaderMap) -> &'static str {
    if let Ok(mut received) = received.lock() {
        received.push(headers);
    }
    "null"
}
