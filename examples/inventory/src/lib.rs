//! The stock service of the order system: `inventory.v1.Inventory/Reserve`
//! over gRPC, served with tonic next to `/metrics` and the health routes on
//! one port (HTTP/2 for gRPC, HTTP/1.1 for the rest).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

/// The generated protobuf types, client and server.
#[allow(missing_docs)]
pub mod pb {
    tonic::include_proto!("inventory.v1");
}

use pb::{ReleaseReply, ReleaseRequest, ReserveReply, ReserveRequest};

/// Stock levels and the reservations taken from them, shared by clones.
#[derive(Clone, Debug)]
pub struct Stock {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    levels: HashMap<String, u64>,
    /// What each order holds, so that a release puts back exactly that, once.
    reservations: HashMap<String, (String, u64)>,
}

impl Stock {
    /// Stock of these skus.
    pub fn new(levels: impl IntoIterator<Item = (String, u64)>) -> Self {
        let state = State { levels: levels.into_iter().collect(), reservations: HashMap::new() };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The gRPC routes, each call a server span with its duration and the
    /// caller's deadline, as an axum router to serve next to others.
    pub fn router(&self) -> axum::Router {
        tonic::service::Routes::new(pb::inventory_server::InventoryServer::new(self.clone()))
            .into_axum_router()
            .layer(throughline::tonic::GrpcServerLayer::new())
    }
}

#[tonic::async_trait]
impl pb::inventory_server::Inventory for Stock {
    #[tracing::instrument(skip_all, fields(order.id = %request.get_ref().order_id, sku = %request.get_ref().sku))]
    async fn reserve(&self, request: Request<ReserveRequest>) -> Result<Response<ReserveReply>, Status> {
        if let Some(remaining) = throughline::tonic::deadline::remaining(&request) {
            tracing::debug!(remaining_ms = remaining.as_millis() as u64, "the caller's deadline");
        }
        let ReserveRequest { order_id, sku, quantity } = request.into_inner();
        if quantity == 0 {
            return Err(Status::invalid_argument("quantity must be at least 1"));
        }
        let mut state = self.state();
        let level =
            state.levels.get_mut(&sku).ok_or_else(|| Status::not_found(format!("no such sku: {sku}")))?;
        let reserved = *level >= u64::from(quantity);
        if reserved {
            *level -= u64::from(quantity);
        }
        let remaining = *level;
        if reserved {
            state.reservations.insert(order_id, (sku, u64::from(quantity)));
        }
        tracing::info!(reserved, remaining, "reservation");
        Ok(Response::new(ReserveReply { reserved, remaining }))
    }

    #[tracing::instrument(skip_all, fields(order.id = %request.get_ref().order_id))]
    async fn release(&self, request: Request<ReleaseRequest>) -> Result<Response<ReleaseReply>, Status> {
        let mut state = self.state();
        let released = match state.reservations.remove(&request.get_ref().order_id) {
            Some((sku, quantity)) => {
                *state.levels.entry(sku).or_default() += quantity;
                true
            }
            None => false,
        };
        tracing::info!(released, "release");
        Ok(Response::new(ReleaseReply { released }))
    }
}
