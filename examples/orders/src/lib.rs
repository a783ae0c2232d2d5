//! The order service of the example system: `POST /orders` stores an order
//! in SQLite, reserves its stock from inventory over gRPC and charges it
//! through payments over HTTP, with retries, a circuit breaker and deadlines
//! on the way, and every step in the trace.
//!
//! - [`store`]: SQLite, with busy/locked retried through the resilience API;
//! - [`payments`]: reqwest with the resilience and tracing middlewares;
//! - [`inventory`]: tonic with throughline-tonic's client layer;
//! - [`routes`]: the handlers, the validation and the saga;
//! - [`error`]: what each failure answers, in one JSON shape;
//! - [`idempotency`]: `Idempotency-Key` on `POST /orders`;
//! - [`edge`]: whose trace context orders continues.

pub mod config;
pub mod edge;
pub mod error;
pub mod idempotency;
pub mod inventory;
pub mod payments;
pub mod routes;
pub mod store;

pub use config::Config;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct App {
    /// The orders table.
    pub store: store::Store,
    /// The payments client.
    pub payments: payments::Payments,
    /// The inventory client.
    pub inventory: inventory::Inventory,
    /// Whose trace context is continued.
    pub edge: edge::Edge,
    /// The `Idempotency-Key`s seen.
    pub idempotency: idempotency::Idempotency,
    /// The sagas running, each in a task of its own, to wait for at shutdown.
    pub sagas: tokio_util::task::TaskTracker,
}

impl App {
    /// Opens the store and builds the clients `config` names.
    pub async fn new(config: &Config) -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Self {
            store: store::Store::open(&config.db).await?,
            payments: payments::Payments::new(config)?,
            inventory: inventory::Inventory::new(&config.inventory_url)?,
            edge: config.edge,
            idempotency: idempotency::Idempotency::default(),
            sagas: tokio_util::task::TaskTracker::new(),
        })
    }

    /// The service's routes, traced by throughline's server layer under the
    /// [`edge`](Self::edge)'s trust policy.
    pub fn router(&self) -> axum::Router {
        let layer = throughline::tower::server::HttpServerLayer::new().trust(self.edge.policy());
        routes::router(self.clone()).layer(layer)
    }
}
