//! The inventory client: tonic's channel under throughline-tonic's client
//! layer, which makes each call a client span, injects the context and sends
//! the call's deadline as `grpc-timeout`; above it, a gRPC retry policy
//! (gRFC A6) for `Reserve` and `Release`, which a refusing replica
//! (`UNAVAILABLE`, or `RESOURCE_EXHAUSTED` with pushback) does not fail.

use std::time::Duration;

use inventory::pb::inventory_client::InventoryClient;
use inventory::pb::{ReleaseRequest, ReserveRequest};
use throughline::resilience::GrpcCode;
use throughline::tonic::retry::{GrpcRetry, GrpcRetryPolicy, MethodRetry};
use throughline::tonic::{GrpcClient, GrpcClientLayer};
use tonic::transport::{Channel, Endpoint};

/// The client, cheap to clone.
#[derive(Clone, Debug)]
pub struct Inventory {
    client: InventoryClient<GrpcRetry<GrpcClient<Channel>>>,
}

impl Inventory {
    /// A client for the inventory service at `url`; it connects on first use.
    pub fn new(url: &str) -> Result<Self, tonic::transport::Error> {
        let channel =
            Endpoint::from_shared(url.to_owned())?.connect_timeout(Duration::from_secs(1)).connect_lazy();
        // Both calls change state only when they reach the handler; a
        // trailers-only refusal reached nothing, so sending again is safe.
        let retry = MethodRetry::new()
            .max_attempts(3)
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(100))
            .retryable_status_codes([GrpcCode::Unavailable, GrpcCode::ResourceExhausted]);
        let retries = GrpcRetryPolicy::builder("inventory")
            .method("inventory.v1.Inventory/Reserve", retry.clone())
            .method("inventory.v1.Inventory/Release", retry)
            .build()
            .expect("the policy is within gRFC A6's ranges");
        let service = tower::ServiceBuilder::new()
            .layer(retries.layer())
            .layer(GrpcClientLayer::new().timeout(Duration::from_millis(500)))
            .service(channel);
        Ok(Self { client: InventoryClient::new(service) })
    }

    /// Reserves stock for an order: `Ok(false)` when there is not enough.
    pub async fn reserve(&self, order_id: &str, sku: &str, quantity: u32) -> Result<bool, tonic::Status> {
        let request = ReserveRequest { order_id: order_id.to_owned(), sku: sku.to_owned(), quantity };
        Ok(self.client.clone().reserve(request).await?.into_inner().reserved)
    }

    /// Puts an order's reservation back (its payment failed). Idempotent.
    pub async fn release(&self, order_id: &str) -> Result<(), tonic::Status> {
        self.client.clone().release(ReleaseRequest { order_id: order_id.to_owned() }).await.map(drop)
    }
}
