//! Hedged gRPC calls (feature `resilience`): when a unary call to a method
//! marked safe is slow, a copy goes out (to the same channel, which a
//! balanced channel may send to another replica) and the first success wins,
//! on throughline-resilience's [`Hedge`]: its delay (fixed, or a percentile
//! of the latency it observed), budget, breaker and deadline rules, its
//! `resilience.hedge` spans and metrics.
//!
//! Only the methods in [`SafeMethods`] are hedged, and only unary calls
//! (their one message is read whole without waiting); a streaming call
//! goes out once. Put the layer outside
//! [`GrpcClientLayer`](crate::GrpcClientLayer), so that every attempt is a
//! client span:
//!
//! ```
//! use std::time::Duration;
//! use throughline_resilience::GrpcClassifier;
//! use throughline_resilience::hedge::{HedgeConfig, SafeMethods};
//! use throughline_tonic::GrpcClientLayer;
//! use throughline_tonic::hedge::GrpcHedgeLayer;
//! use throughline_tonic_testproto::EchoClient;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = HedgeConfig::new("echo")
//!     .percentile_delay(0.95, Duration::from_millis(20))
//!     .classifier(GrpcClassifier)
//!     .build()?;
//! let hedging = GrpcHedgeLayer::new(policy, SafeMethods::new(["/throughline.test.v1.Echo/Unary"]));
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let service = tower::ServiceBuilder::new().layer(hedging).layer(GrpcClientLayer::new()).service(channel);
//! let client = EchoClient::new(service);
//! # let _ = client; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use throughline_resilience::GrpcClassifier;
use throughline_resilience::classify::{BoxError, Classify};
use throughline_resilience::hedge::{Hedge, HedgePolicy, SafeMethods};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::unary::{Attempts, DEFAULT_MAX_BUFFERED_BYTES, OnceOrRepeated, Sending, UnaryCall};

/// Hedges the unary calls of the methods marked safe; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct GrpcHedgeLayer<C = GrpcClassifier> {
    policy: HedgePolicy<C>,
    methods: SafeMethods,
    max_buffered_bytes: usize,
}

impl<C> GrpcHedgeLayer<C> {
    /// Hedges calls of `methods` (`/package.Service/Method`, or
    /// `/package.Service/` for a whole service) by `policy`.
    pub fn new(policy: HedgePolicy<C>, methods: SafeMethods) -> Self {
        Self { policy, methods, max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES }
    }

    /// The largest request kept for a copy (default 64 KiB); a larger one is
    /// sent once.
    pub fn max_buffered_bytes(mut self, limit: usize) -> Self {
        self.max_buffered_bytes = limit;
        self
    }
}

impl<S, C: Clone> Layer<S> for GrpcHedgeLayer<C> {
    type Service = GrpcHedge<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcHedge { inner, layer: self.clone() }
    }
}

/// The service of [`GrpcHedgeLayer`].
#[derive(Clone, Debug)]
pub struct GrpcHedge<S, C = GrpcClassifier> {
    inner: S,
    layer: GrpcHedgeLayer<C>,
}

impl<C> GrpcHedge<(), C> {
    /// [`GrpcHedgeLayer::new`], tower-http style.
    pub fn layer(policy: HedgePolicy<C>, methods: SafeMethods) -> GrpcHedgeLayer<C> {
        GrpcHedgeLayer::new(policy, methods)
    }
}

impl<S, C> GrpcHedge<S, C> {
    throughline_core::inner_service_accessors!();
}

impl<S, C, ResBody> Service<Request<Body>> for GrpcHedge<S, C>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if !self.layer.methods.contains(request.uri().path()) {
            return ResponseFuture::once(self.inner.call(request));
        }
        let (attempts, call) = match Sending::of(&mut self.inner, request, self.layer.max_buffered_bytes) {
            Sending::Attempts(attempts, call) => (attempts, call),
            Sending::Once(request) => return ResponseFuture::once(self.inner.call(request)),
        };
        let future = Hedge::layer(self.layer.policy.clone()).layer(attempts).call(call);
        ResponseFuture { kind: OnceOrRepeated::Repeated { future } }
    }
}

type HedgeFuture<S, C> = throughline_resilience::hedge::ResponseFuture<
    <S as Service<Request<Body>>>::Future,
    Attempts<S>,
    UnaryCall,
    C,
    throughline_resilience::hedge::Idempotent,
>;

pin_project! {
    /// The future of [`GrpcHedge`].
    pub struct ResponseFuture<S, C>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        kind: OnceOrRepeated<S::Future, HedgeFuture<S, C>>,
    }
}

impl<S: Service<Request<Body>>, C> ResponseFuture<S, C> {
    fn once(future: S::Future) -> Self {
        Self { kind: OnceOrRepeated::Once { future } }
    }
}

impl<S, C, ResBody> Future for ResponseFuture<S, C>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>>,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().kind.poll(cx)
    }
}
