//! The stock service of the order system: `inventory.v1.Inventory/Reserve`
//! over gRPC, served with tonic next to `/metrics` and the health routes on
//! one port (HTTP/2 for gRPC, HTTP/1.1 for the rest).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

pub mod faults;

/// The generated protobuf types, client and server.
#[allow(missing_docs)]
pub mod pb {
    tonic::include_proto!("inventory.v1");
}

use pb::{AvailableReply, AvailableRequest, ReleaseReply, ReleaseRequest, ReserveReply, ReserveRequest};

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

/// An order id or a sku: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[tonic::async_trait]
impl pb::inventory_server::Inventory for Stock {
    /// Reserves `quantity` of `sku` for an order, once: a repeat for the same
    /// order answers as the first did without taking more stock. Input is
    /// checked first, and no status echoes it (a status is a header, and
    /// the caller's input could be any size).
    #[tracing::instrument(skip_all, fields(order.id, sku))]
    async fn reserve(&self, request: Request<ReserveRequest>) -> Result<Response<ReserveReply>, Status> {
        if let Some(remaining) = throughline::tonic::deadline::remaining(&request) {
            tracing::debug!(remaining_ms = remaining.as_millis() as u64, "the caller's deadline");
        }
        let ReserveRequest { order_id, sku, quantity } = request.into_inner();
        if !is_valid_id(&order_id) {
            return Err(Status::invalid_argument("order_id must be 1 to 64 characters of A-Z a-z 0-9 . _ -"));
        }
        if !is_valid_id(&sku) {
            return Err(Status::invalid_argument("sku must be 1 to 64 characters of A-Z a-z 0-9 . _ -"));
        }
        let span = tracing::Span::current();
        span.record("order.id", order_id.as_str());
        span.record("sku", sku.as_str());
        if quantity == 0 {
            return Err(Status::invalid_argument("quantity must be at least 1"));
        }
        let mut state = self.state();
        if let Some((held_sku, held)) = state.reservations.get(&order_id) {
            if *held_sku != sku || *held != u64::from(quantity) {
                return Err(Status::failed_precondition("the order already holds a different reservation"));
            }
            let remaining = state.levels.get(&sku).copied().unwrap_or(0);
            tracing::info!(reserved = true, remaining, "reservation repeated");
            return Ok(Response::new(ReserveReply { reserved: true, remaining }));
        }
        let level = state.levels.get_mut(&sku).ok_or_else(|| Status::not_found("no such sku"))?;
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

    /// What is left of a sku; changes nothing, so a caller may ask twice.
    #[tracing::instrument(skip_all)]
    async fn available(
        &self,
        request: Request<AvailableRequest>,
    ) -> Result<Response<AvailableReply>, Status> {
        let sku = &request.get_ref().sku;
        if !is_valid_id(sku) {
            return Err(Status::invalid_argument("sku must be 1 to 64 characters of A-Z a-z 0-9 . _ -"));
        }
        let available =
            self.state().levels.get(sku).copied().ok_or_else(|| Status::not_found("no such sku"))?;
        Ok(Response::new(AvailableReply { available }))
    }
}
