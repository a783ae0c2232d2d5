//! What the integration tests need beyond throughline-testing's `Capture`:
//! the layer under test measuring into a capture, and an axum app served on
//! 127.0.0.1. Tests run on tokio's current-thread runtime, so the capture
//! installed as the thread's default (`Capture::set_default`) also covers
//! the server's tasks.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use throughline_testing::Capture;
use throughline_tower::server::HttpServerLayer;
use tokio::net::TcpListener;

pub(crate) const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const PARENT_ID: &str = "00f067aa0ba902b7";
pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// How long a test waits for spans that end on the server's tasks: bounded,
/// so that a missing span fails rather than hangs.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The layer under test, measuring into `capture`.
pub(crate) fn layer(capture: &Capture) -> HttpServerLayer {
    HttpServerLayer::new().meter_provider(capture.meter_provider())
}

pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    addr
}

/// A response body the test feeds chunk by chunk; it ends when the sender
/// is dropped.
pub(crate) struct ChannelBody(tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|data| Ok(http_body::Frame::data(data))))
    }
}

pub(crate) type BodySender = tokio::sync::mpsc::UnboundedSender<bytes::Bytes>;

/// `GET /stream` answers at once with a body the test writes: each request
/// hands the test the sender of its body.
pub(crate) fn streaming_app(
    layer: HttpServerLayer,
) -> (Router, tokio::sync::mpsc::UnboundedReceiver<BodySender>) {
    let (senders, bodies) = tokio::sync::mpsc::unbounded_channel::<BodySender>();
    let app = Router::new()
        .route(
            "/stream",
            axum::routing::get(move || {
                let senders = senders.clone();
                async move {
                    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                    senders.send(sender).unwrap();
                    axum::body::Body::new(ChannelBody(receiver))
                }
            }),
        )
        .layer(layer);
    (app, bodies)
}
