//! The order system as processes: payments, inventory and orders on
//! 127.0.0.1, exporting over TLS to an in-process OTLP receiver (or to the
//! collector named by `OTEL_EXPORTER_OTLP_ENDPOINT`): orders and inventory
//! over gRPC, payments over HTTP, all verifying the receiver's certificate
//! against a test authority made for the run.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use throughline::testing::{OtlpReceiver, PkiFiles, ReceivedSpan, TestPki};

use crate::process::Service;

/// Settings for a run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Export to this collector instead of the in-process receiver.
    pub collector: Option<String>,
    /// Export in plaintext to this throughline-viewer instead (orders and
    /// inventory over gRPC, payments over HTTP), unless `collector` is set.
    pub viewer: Option<throughline_viewer::Addresses>,
    /// Extra `--flag value` arguments for payments (its faults).
    pub payments_args: Vec<String>,
    /// Extra environment for orders (its resilience settings).
    pub orders_env: Vec<(&'static str, String)>,
    /// Extra environment for inventory (the calls it refuses).
    pub inventory_env: Vec<(&'static str, String)>,
    /// Starts a second inventory replica whose every 5th call waits this
    /// long; orders balances over both.
    pub slow_inventory_ms: Option<u64>,
}

/// The three services and the receiver their telemetry goes to.
#[derive(Debug)]
pub struct System {
    /// The local collector; `None` when exporting elsewhere.
    pub receiver: Option<OtlpReceiver>,
    /// The test authority's certificate the services trust, while they run.
    _pki: Option<PkiFiles>,
    /// The payment gateway.
    pub payments: Service,
    /// `http://ADDR` of the gateway's admin listener (faults, stats).
    pub payments_admin: String,
    /// The stock service.
    pub inventory: Service,
    /// The second, slow replica, when the options asked for one.
    pub slow_inventory: Option<Service>,
    /// The order service.
    pub orders: Service,
}

/// Where the services export: all to the same collector, or to the local
/// receiver over TLS, by gRPC or by HTTP.
enum Export {
    Same(Vec<(&'static str, String)>),
    /// One service over each transport (TLS to the receiver, plaintext to the viewer).
    Split {
        grpc: Vec<(&'static str, String)>,
        http: Vec<(&'static str, String)>,
    },
}

impl System {
    /// Starts everything, dependencies first; logs and the database go to `dir`.
    pub async fn start(options: Options, dir: &Path) -> Result<Self, String> {
        // The services inherit no OTEL_* variable (see `Service::start`): the
        // export settings are these, and for a collector of the user's, its
        // protocol and headers as the user set them.
        let (receiver, pki, export) = match options.collector {
            Some(endpoint) => {
                let mut export = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)];
                for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"] {
                    export.extend(std::env::var(name).ok().map(|value| (name, value)));
                }
                (None, None, Export::Same(export))
            }
            None if options.viewer.is_some() => {
                let addresses = options.viewer.unwrap_or_default();
                let grpc = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{}", addresses.grpc)),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
                ];
                let http = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{}", addresses.http)),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
                ];
                (None, None, Export::Split { grpc, http })
            }
            None => {
                let pki = TestPki::generate();
                let receiver = OtlpReceiver::start_tls(pki.server_tls())
                    .await
                    .map_err(|e| format!("OTLP receiver: {e}"))?;
                let files = pki.files().map_err(|e| format!("the test authority's files: {e}"))?;
                let ca = ("OTEL_EXPORTER_OTLP_CERTIFICATE", files.ca.display().to_string());
                let grpc = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
                    ca.clone(),
                ];
                let http = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
                    ca,
                ];
                (Some(receiver), Some(files), Export::Split { grpc, http })
            }
        };
        let telemetry = |service: &str| {
            let mut env = match &export {
                Export::Same(export) => export.clone(),
                // One service over each transport.
                Export::Split { http, .. } if service == "payments" => http.clone(),
                Export::Split { grpc, .. } => grpc.clone(),
            };
            env.extend([
                ("OTEL_SERVICE_NAME", service.to_owned()),
                ("OTEL_METRICS_EXPORTER", "prometheus".to_owned()),
                ("OTEL_LOGS_EXPORTER", "none".to_owned()),
                ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
                ("THROUGHLINE_LOG_FORMAT", "json".to_owned()),
                ("RUST_LOG", "info".to_owned()),
            ]);
            env
        };

        let mut env = telemetry("payments");
        env.push(("PAYMENTS_ADDR", "127.0.0.1:0".to_owned()));
        env.push(("PAYMENTS_ADMIN_ADDR", "127.0.0.1:0".to_owned()));
        let payments = Service::start_with_args("payments", "payments", &env, &options.payments_args, dir)?;
        let payments_admin = payments
            .printed_address("admin")
            .map(|addr| format!("http://{addr}"))
            .ok_or_else(|| "payments did not print its admin address".to_owned())?;

        let mut env = telemetry("inventory");
        env.push(("INVENTORY_ADDR", "127.0.0.1:0".to_owned()));
        env.extend(options.inventory_env);
        let inventory = Service::start("inventory", "inventory", &env, dir)?;
        let slow_inventory = match options.slow_inventory_ms {
            Some(ms) => {
                let mut env = telemetry("inventory");
                env.push(("INVENTORY_ADDR", "127.0.0.1:0".to_owned()));
                env.push(("INVENTORY_LATENCY_MS", ms.to_string()));
                env.push(("INVENTORY_SLOW_EVERY", "5".to_owned()));
                Some(Service::start("inventory-slow", "inventory", &env, dir)?)
            }
            None => None,
        };
        let inventory_urls = std::iter::once(&inventory).chain(&slow_inventory).map(Service::url);

        let mut env = telemetry("orders");
        env.push(("ORDERS_ADDR", "127.0.0.1:0".to_owned()));
        env.push(("ORDERS_DB", dir.join("orders.db").display().to_string()));
        // orders also exports its logs and metrics, which the SIGTERM step
        // counts after the final flush.
        env.push(("OTEL_LOGS_EXPORTER", "otlp".to_owned()));
        env.push(("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()));
        env.push(("PAYMENTS_URL", payments.url()));
        env.push(("INVENTORY_URL", inventory_urls.collect::<Vec<_>>().join(",")));
        env.extend(options.orders_env);
        let orders = Service::start("orders", "orders", &env, dir)?;

        Ok(Self { receiver, _pki: pki, payments, payments_admin, inventory, slow_inventory, orders })
    }
}

impl System {
    /// Replaces payments' faults (`FaultSpec` as JSON, `{}` for none).
    pub async fn set_faults(&self, client: &reqwest::Client, faults: Value) -> Result<(), String> {
        let url = format!("{}/admin/faults", self.payments_admin);
        let answer =
            client.put(url).json(&faults).send().await.map_err(|e| format!("setting faults: {e}"))?;
        answer
            .status()
            .is_success()
            .then_some(())
            .ok_or_else(|| format!("setting faults: {}", answer.status()))
    }

    /// What payments received so far (its `Stats`).
    pub async fn payments_stats(&self, client: &reqwest::Client) -> Result<Value, String> {
        let url = format!("{}/admin/stats", self.payments_admin);
        let answer = client.get(url).send().await.map_err(|e| format!("payments stats: {e}"))?;
        answer.json().await.map_err(|e| format!("payments stats: {e}"))
    }

    /// The spans of one trace the receiver has, once `complete` accepts
    /// them or `within` has passed.
    pub async fn trace(
        &self,
        trace_id: &str,
        within: Duration,
        complete: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let Some(receiver) = &self.receiver else { return Vec::new() };
        let started = Instant::now();
        loop {
            let spans: Vec<ReceivedSpan> =
                receiver.spans().into_iter().filter(|s| s.trace_id() == trace_id).collect();
            if complete(&spans) || started.elapsed() > within {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The span kinds of the OTLP protocol.
pub mod kind {
    /// A server span.
    pub const SERVER: i32 = 2;
    /// A client span.
    pub const CLIENT: i32 = 3;
}

/// The spans of `service` of this kind.
pub fn spans_of<'a>(spans: &'a [ReceivedSpan], service: &str, kind: i32) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.span.kind == kind && crate::waterfall::service_name(s) == service).collect()
}

/// Whether `span` descends from the span with id `ancestor` within `spans`.
pub fn descends_from(spans: &[ReceivedSpan], span: &ReceivedSpan, ancestor: &str) -> bool {
    let mut parent = span.parent_span_id();
    for _ in 0..spans.len() {
        match parent {
            Some(id) if id == ancestor => return true,
            Some(id) => {
                parent = spans.iter().find(|s| s.span_id() == id).and_then(ReceivedSpan::parent_span_id)
            }
            None => return false,
        }
    }
    false
}
