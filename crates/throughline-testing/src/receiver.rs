//! An OTLP receiver for tests: gRPC and HTTP/protobuf on 127.0.0.1, recording
//! what it receives, and able to fail or stall on demand.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::received::{Protocol, ReceivedLog, ReceivedMetric, ReceivedSpan};

mod grpc;
mod http;
mod tls;

pub use tls::ReceiverTls;

/// How the receiver answers export requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// Record the request and answer success.
    #[default]
    Accept,
    /// Answer a retryable failure (gRPC `UNAVAILABLE`, HTTP 503) without recording.
    Fail,
    /// Answer a permanent failure (gRPC `INVALID_ARGUMENT`, HTTP 400) without recording.
    Reject,
    /// Hold every request without answering until the behaviour changes, then
    /// answer a retryable failure: a held request is never recorded, as its
    /// sender has most likely given up on it.
    Stall,
}

/// One scripted answer to one export request, whatever the [`Behaviour`]:
/// see [`OtlpReceiver::reply_next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Record the request and answer success.
    Accept,
    /// Wait this long, then record the request and answer success: a slow
    /// but healthy collector.
    AcceptAfter(Duration),
    /// A retryable failure: gRPC `UNAVAILABLE`, HTTP 503.
    Unavailable,
    /// Throttling with a delay: gRPC `RESOURCE_EXHAUSTED` with a
    /// `google.rpc.RetryInfo`, HTTP 429 with `Retry-After` (in whole
    /// seconds, rounded up, as the header allows).
    Throttle(Duration),
    /// A permanent failure: gRPC `INVALID_ARGUMENT`, HTTP 400.
    Reject,
}

/// An OTLP receiver listening on two ephemeral ports of 127.0.0.1: one for
/// gRPC, one for HTTP/protobuf (`/v1/traces`, `/v1/metrics`, `/v1/logs`, gzip
/// bodies accepted). It stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use throughline_testing::{Behaviour, OtlpReceiver};
///
/// let receiver = OtlpReceiver::start().await?;
/// // Point an exporter at receiver.grpc_endpoint() or receiver.http_endpoint(), then:
/// assert!(receiver.spans().is_empty());
/// receiver.set_behaviour(Behaviour::Fail); // the collector is "down"
/// # Ok(()) }
/// ```
pub struct OtlpReceiver {
    grpc: SocketAddr,
    http: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("grpc", &self.grpc)
            .field("http", &self.http)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl OtlpReceiver {
    /// Binds both ports and serves plaintext on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::serve(None).await
    }

    /// Binds both ports and serves TLS only, with `tls`'s certificate (and
    /// client certificates required, when it says so); the endpoints are
    /// `https://127.0.0.1:PORT`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use throughline_testing::{OtlpReceiver, TestPki};
    ///
    /// let pki = TestPki::generate();
    /// let receiver = OtlpReceiver::start_tls(pki.server_tls().require_client_certificate(pki.ca_pem())).await?;
    /// assert!(receiver.http_endpoint().starts_with("https://"));
    /// # Ok(()) }
    /// ```
    pub async fn start_tls(tls: ReceiverTls) -> std::io::Result<Self> {
        Self::serve(Some(tls)).await
    }

    async fn serve(tls: Option<ReceiverTls>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(false);
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = TcpListener::bind("127.0.0.1:0").await?;
        let (grpc, http) = (grpc_listener.local_addr()?, http_listener.local_addr()?);
        let acceptor = tls.as_ref().map(ReceiverTls::acceptor).transpose()?;
        tokio::spawn(grpc::serve(
            grpc_listener,
            shared.clone(),
            stopped.clone(),
            tls.as_ref().map(ReceiverTls::tonic),
        ));
        tokio::spawn(http::serve(http_listener, shared.clone(), stopped, acceptor));
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(Self { grpc, http, scheme, shared, stop })
    }

    /// The gRPC endpoint, for `OTEL_EXPORTER_OTLP_ENDPOINT` with protocol `grpc`.
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.grpc)
    }

    /// The HTTP endpoint, for `OTEL_EXPORTER_OTLP_ENDPOINT` with protocol
    /// `http/protobuf` (the exporter appends `/v1/traces` and the like).
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.http)
    }

    /// How many connections to the HTTP port were closed because their TLS
    /// handshake failed (the sender did not trust the certificate, or had no
    /// client certificate to give).
    pub fn tls_handshakes_refused(&self) -> usize {
        self.shared.tls_refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Answers the next export requests, of any signal on either protocol,
    /// with `replies` in order, then goes back to the [`Behaviour`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use throughline_testing::{OtlpReceiver, Reply};
    ///
    /// let receiver = OtlpReceiver::start().await?;
    /// // A collector restarting, then throttling, then back.
    /// receiver.reply_next([Reply::Unavailable, Reply::Throttle(Duration::from_millis(200))]);
    /// # Ok(()) }
    /// ```
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.store().script.extend(replies);
    }

    /// Changes how requests are answered from now on; held requests are released.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.behaviour.send_replace(behaviour);
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let store = self.shared.store();
        let mut spans = Vec::new();
        for (protocol, request) in &store.traces {
            for resource in &request.resource_spans {
                let attributes = resource.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                for scope in &resource.scope_spans {
                    for span in &scope.spans {
                        spans.push(ReceivedSpan {
                            resource: attributes.clone(),
                            scope: scope_name(scope.scope.as_ref()),
                            span: span.clone(),
                            protocol: *protocol,
                        });
                    }
                }
            }
        }
        spans
    }

    /// Every metric received so far, in arrival order (one item per metric per export).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        let store = self.shared.store();
        let mut metrics = Vec::new();
        for (protocol, request) in &store.metrics {
            for resource in &request.resource_metrics {
                let attributes = resource.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                for scope in &resource.scope_metrics {
                    for metric in &scope.metrics {
                        metrics.push(ReceivedMetric {
                            resource: attributes.clone(),
                            scope: scope_name(scope.scope.as_ref()),
                            metric: metric.clone(),
                            protocol: *protocol,
                        });
                    }
                }
            }
        }
        metrics
    }

    /// Every log record received so far, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        let store = self.shared.store();
        let mut logs = Vec::new();
        for (protocol, request) in &store.logs {
            for resource in &request.resource_logs {
                let attributes = resource.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                for scope in &resource.scope_logs {
                    for record in &scope.log_records {
                        logs.push(ReceivedLog {
                            resource: attributes.clone(),
                            scope: scope_name(scope.scope.as_ref()),
                            record: record.clone(),
                            protocol: *protocol,
                        });
                    }
                }
            }
        }
        logs
    }

    /// How many export requests arrived, answered or not: `(traces, metrics, logs)`.
    pub fn attempts(&self) -> (usize, usize, usize) {
        let store = self.shared.store();
        (store.attempts[0], store.attempts[1], store.attempts[2])
    }

    /// Waits until at least `count` spans were received, or `within` passed.
    pub async fn wait_for_spans(
        &self,
        count: usize,
        within: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.wait(within, || Some(self.spans()).filter(|s| s.len() >= count), || self.spans().len(), count)
            .await
    }

    /// Waits until a metric named `name` was received, or `within` passed, and
    /// returns every received metric of that name.
    pub async fn wait_for_metric(
        &self,
        name: &str,
        within: Duration,
    ) -> Result<Vec<ReceivedMetric>, WaitTimeout> {
        let named = || self.metrics().into_iter().filter(|m| m.name() == name).collect::<Vec<_>>();
        self.wait(within, || Some(named()).filter(|m| !m.is_empty()), || 0, 1).await
    }

    /// Waits until at least `count` log records were received, or `within` passed.
    pub async fn wait_for_logs(
        &self,
        count: usize,
        within: Duration,
    ) -> Result<Vec<ReceivedLog>, WaitTimeout> {
        self.wait(within, || Some(self.logs()).filter(|l| l.len() >= count), || self.logs().len(), count)
            .await
    }

    async fn wait<T>(
        &self,
        within: Duration,
        ready: impl Fn() -> Option<T>,
        have: impl Fn() -> usize,
        wanted: usize,
    ) -> Result<T, WaitTimeout> {
        let waiting = async {
            loop {
                let notified = self.shared.received.notified();
                if let Some(found) = ready() {
                    return found;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, waiting).await.map_err(|_| WaitTimeout { wanted, received: have() })
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The receiver did not get what a test waited for in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeout {
    /// How many items were waited for.
    pub wanted: usize,
    /// How many had arrived.
    pub received: usize,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timed out waiting for {} items; {} arrived", self.wanted, self.received)
    }
}

impl std::error::Error for WaitTimeout {}

fn scope_name(scope: Option<&InstrumentationScope>) -> String {
    scope.map(|s| s.name.clone()).unwrap_or_default()
}

/// The signal of an export request.
#[derive(Clone, Copy)]
pub(crate) enum Signal {
    Traces = 0,
    Metrics = 1,
    Logs = 2,
}

/// What a protocol handler answers.
pub(crate) enum Answer {
    Accepted,
    Unavailable,
    Throttled(Duration),
    Rejected,
}

#[derive(Default)]
pub(crate) struct Store {
    traces: Vec<(Protocol, ExportTraceServiceRequest)>,
    metrics: Vec<(Protocol, ExportMetricsServiceRequest)>,
    logs: Vec<(Protocol, ExportLogsServiceRequest)>,
    attempts: [usize; 3],
    script: std::collections::VecDeque<Reply>,
}

impl Store {
    pub(crate) fn record_traces(&mut self, protocol: Protocol, request: ExportTraceServiceRequest) {
        self.traces.push((protocol, request));
    }

    pub(crate) fn record_metrics(&mut self, protocol: Protocol, request: ExportMetricsServiceRequest) {
        self.metrics.push((protocol, request));
    }

    pub(crate) fn record_logs(&mut self, protocol: Protocol, request: ExportLogsServiceRequest) {
        self.logs.push((protocol, request));
    }
}

/// State shared by the two protocol front ends.
pub(crate) struct Shared {
    store: Mutex<Store>,
    behaviour: watch::Sender<Behaviour>,
    received: Notify,
    pub(crate) tls_refused: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            store: Mutex::default(),
            behaviour: watch::Sender::new(Behaviour::Accept),
            received: Notify::new(),
            tls_refused: Arc::default(),
        }
    }
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A test that panicked while holding the lock must not hide the data.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers one export request by the current behaviour, recording it when accepted.
    pub(crate) async fn handle(&self, signal: Signal, record: impl FnOnce(&mut Store)) -> Answer {
        let scripted = {
            let mut store = self.store();
            store.attempts[signal as usize] += 1;
            store.script.pop_front()
        };
        match scripted {
            None => {}
            Some(Reply::Accept) => {
                record(&mut self.store());
                self.received.notify_waiters();
                return Answer::Accepted;
            }
            Some(Reply::AcceptAfter(delay)) => {
                tokio::time::sleep(delay).await;
                record(&mut self.store());
                self.received.notify_waiters();
                return Answer::Accepted;
            }
            Some(Reply::Unavailable) => return Answer::Unavailable,
            Some(Reply::Throttle(delay)) => return Answer::Throttled(delay),
            Some(Reply::Reject) => return Answer::Rejected,
        }
        let mut behaviour = self.behaviour.subscribe();
        let current = *behaviour.borrow_and_update();
        match current {
            Behaviour::Accept => {
                record(&mut self.store());
                self.received.notify_waiters();
                Answer::Accepted
            }
            Behaviour::Fail => Answer::Unavailable,
            Behaviour::Reject => Answer::Rejected,
            Behaviour::Stall => {
                let _released = behaviour.wait_for(|b| *b != Behaviour::Stall).await;
                Answer::Unavailable
            }
        }
    }
}
