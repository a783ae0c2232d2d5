//! What every integration test needs: the Echo service served on
//! 127.0.0.1 behind the server layer, a client behind the client layer, and
//! throughline-testing's in-memory capture. Tests run on tokio's
//! current-thread runtime, so the thread-local subscriber also covers the
//! server's and the connection's tasks.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::pin::Pin;

use futures_util::Stream;
use throughline_subscriber::ContextEventsLayer;
use throughline_testing::Capture;
use throughline_tonic::deadline;
use throughline_tonic::{GrpcClient, GrpcClientLayer, GrpcServerLayer};
use throughline_tonic_testproto::{Echo, EchoClient, EchoReply, EchoRequest, EchoServer};
use tokio::net::TcpListener;
use tonic::metadata::{KeyAndValueRef, MetadataKey, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

pub(crate) type Client = EchoClient<GrpcClient<Channel>>;

/// The Echo service: answers, fails with the requested code, and, with a
/// downstream, calls it first and reports the deadline it sent. A unary
/// call's request metadata `reply-<key>` comes back as response metadata
/// `<key>`, in the headers or, when the call fails, in the trailers-only
/// response.
#[derive(Clone, Default)]
pub(crate) struct Service {
    pub(crate) downstream: Option<Client>,
}

fn remaining_micros<T>(request: &Request<T>) -> u64 {
    deadline::remaining(request).map_or(0, |left| u64::try_from(left.as_micros()).unwrap_or(u64::MAX))
}

#[tonic::async_trait]
impl Echo for Service {
    type StreamStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let remaining_micros = remaining_micros(&request);
        let replied = replied_metadata(request.metadata());
        let echo = request.into_inner();
        if echo.code != 0 {
            return Err(Status::with_metadata(Code::from(echo.code), "asked to fail", replied));
        }
        let message = match &self.downstream {
            // The handler's own call: the current deadline goes with it.
            Some(downstream) => {
                let reply = downstream
                    .clone()
                    .unary(EchoRequest { message: echo.message, ..Default::default() })
                    .await?;
                reply.into_inner().remaining_micros.to_string()
            }
            None => echo.message,
        };
        let mut response = Response::new(EchoReply { message, remaining_micros });
        *response.metadata_mut() = replied;
        Ok(response)
    }

    async fn stream(&self, request: Request<EchoRequest>) -> Result<Response<Self::StreamStream>, Status> {
        let echo = request.into_inner();
        let failure = (echo.code != 0).then(|| Status::new(Code::from(echo.code), "failed mid-stream"));
        if echo.count == 0
            && let Some(failure) = failure
        {
            return Err(failure);
        }
        let replies = (0..echo.count)
            .map(move |i| Ok(EchoReply { message: format!("{} {i}", echo.message), remaining_micros: 0 }));
        let items: Vec<_> = replies.chain(failure.map(Err)).collect();
        Ok(Response::new(Box::pin(futures_util::stream::iter(items))))
    }
}

/// The request metadata `reply-<key>`, as metadata `<key>`.
fn replied_metadata(request: &MetadataMap) -> MetadataMap {
    let mut replied = MetadataMap::new();
    for entry in request.iter() {
        if let KeyAndValueRef::Ascii(key, value) = entry
            && let Some(key) = key.as_str().strip_prefix("reply-")
        {
            replied.append(MetadataKey::from_bytes(key.as_bytes()).unwrap(), value.clone());
        }
    }
    replied
}

/// The capture, installed as this thread's subscriber.
pub(crate) struct Telemetry {
    pub(crate) capture: Capture,
    _default: DefaultGuard,
}

impl Telemetry {
    pub(crate) fn install() -> Self {
        Self::from(Capture::new())
    }

    pub(crate) fn server_layer(&self) -> GrpcServerLayer {
        GrpcServerLayer::new().meter_provider(self.capture.meter_provider())
    }

    pub(crate) fn client_layer(&self) -> GrpcClientLayer {
        GrpcClientLayer::new().meter_provider(self.capture.meter_provider())
    }
}

impl From<Capture> for Telemetry {
    fn from(capture: Capture) -> Self {
        // Not the transport's spans and events: h2, hyper and tower trace
        // their internals too.
        let not_transport = || {
            filter_fn(|meta| {
                !["h2", "hyper", "tower", "tonic"].iter().any(|noisy| meta.target().starts_with(noisy))
            })
        };
        let subscriber = tracing_subscriber::registry()
            .with(capture.layer().with_filter(not_transport()))
            .with(ContextEventsLayer::new().with_filter(not_transport()));
        let _default = tracing::subscriber::set_default(subscriber);
        Self { capture, _default }
    }
}

/// Serves `service` behind `layer` on 127.0.0.1, on a port of its own.
pub(crate) async fn serve(layer: GrpcServerLayer, service: Service) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(EchoServer::new(service))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}

/// Serves `service` behind `layer`, with `inner` between the layer and the
/// service, as [`serve`] does.
pub(crate) async fn serve_with<L>(inner: L, layer: GrpcServerLayer, service: Service) -> SocketAddr
where
    L: tower::Layer<tonic::service::Routes> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error: Into<Box<dyn std::error::Error + Send + Sync>> + std::fmt::Display + Send,
        > + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(tower::ServiceBuilder::new().layer(layer).layer(inner))
            .add_service(EchoServer::new(service))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}

/// A client of `addr` behind `layer`.
pub(crate) async fn client(addr: SocketAddr, layer: GrpcClientLayer) -> Client {
    EchoClient::new(tower::ServiceBuilder::new().layer(layer).service(channel(addr).await))
}

/// A channel connected to the server at `addr`, for a client stack of its own.
pub(crate) async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::try_from(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

pub(crate) fn request(message: &str, count: u32, code: Code) -> EchoRequest {
    EchoRequest { message: message.to_owned(), count, code: code as i32 }
}
