//! The inventory client, over one replica or several (a balanced channel):
//!
//! - throughline-tonic's client layer makes each call a client span, injects
//!   the context and sends the call's deadline as `grpc-timeout`;
//! - above it, a gRPC retry policy (gRFC A6) for `Reserve` and `Release`,
//!   which a refusing replica (`UNAVAILABLE`, or `RESOURCE_EXHAUSTED` with
//!   pushback) does not fail; each retry is a client span of its own;
//! - below it, hedging for `Available`, a read: when a replica is slow to
//!   answer, a copy goes out after 25 ms and the first answer wins, so a slow
//!   replica does not set the tail latency of orders. The call is one client
//!   span; its attempts are `resilience.hedge` spans.

use std::time::Duration;

use inventory::pb::inventory_client::InventoryClient;
use inventory::pb::{AvailableRequest, ReleaseRequest, ReserveRequest};
use throughline::resilience::hedge::{HedgeConfig, SafeMethods};
use throughline::resilience::{GrpcClassifier, GrpcCode, RetryBudget};
use throughline::tonic::hedge::{GrpcHedge, GrpcHedgeLayer};
use throughline::tonic::retry::{GrpcRetry, GrpcRetryPolicy, MethodRetry};
use throughline::tonic::{GrpcClient, GrpcClientLayer};
use tonic::transport::{Channel, Endpoint};

/// The client, cheap to clone.
#[derive(Clone, Debug)]
pub struct Inventory {
    client: InventoryClient<GrpcRetry<GrpcClient<GrpcHedge<Channel>>>>,
}

impl Inventory {
    /// A client for the inventory service at `urls` (comma-separated
    /// replicas, balanced); it connects on first use.
    pub fn new(urls: &str) -> Result<Self, tonic::transport::Error> {
        let endpoints = urls
            .split(',')
            .map(|url| {
                Ok(Endpoint::from_shared(url.trim().to_owned())?.connect_timeout(Duration::from_secs(1)))
            })
            .collect::<Result<Vec<_>, tonic::transport::Error>>()?;
        let channel = match endpoints.as_slice() {
            [one] => one.connect_lazy(),
            _ => Channel::balance_list(endpoints.into_iter()),
        };
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
        // A read is cheap to send twice: up to a fifth of the calls may be hedged.
        let budget = RetryBudget::new(0.2, 10).expect("a valid budget");
        let hedges = HedgeConfig::new("inventory-available")
            .delay(Duration::from_millis(25))
            .budget(budget)
            .classifier(GrpcClassifier)
            .build()
            .expect("a valid hedge policy");
        let service = tower::ServiceBuilder::new()
            .layer(retries.layer())
            .layer(GrpcClientLayer::new().timeout(Duration::from_millis(500)))
            .layer(GrpcHedgeLayer::new(hedges, SafeMethods::new(["/inventory.v1.Inventory/Available"])))
            .service(channel);
        Ok(Self { client: InventoryClient::new(service) })
    }

    /// What is left of `sku`.
    pub async fn available(&self, sku: &str) -> Result<u64, tonic::Status> {
        let request = AvailableRequest { sku: sku.to_owned() };
        Ok(self.client.clone().available(request).await?.into_inner().available)
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
