//! Graceful shutdown for axum services. On SIGTERM or ctrl-c: readiness turns
//! false at once; the listener keeps accepting for the pre-stop delay, while
//! load balancers notice; then it closes and in-flight requests drain up to a
//! deadline; then telemetry is flushed within its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use throughline_pipeline::{ShutdownError, Telemetry};

/// Whether the service is draining, shared with whoever needs to know, such as
/// a readiness check that should fail as soon as shutdown starts.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    inner: Arc<LifecycleInner>,
}

#[derive(Debug, Default)]
struct LifecycleInner {
    draining: AtomicBool,
    changed: Notify,
}

impl Lifecycle {
    /// A service that is not draining.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Starts shutdown, as a signal would.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.inner.changed.notify_waiters();
    }

    /// Resolves once shutdown has started.
    pub async fn draining(&self) {
        loop {
            let changed = self.inner.changed.notified();
            if self.is_draining() {
                return;
            }
            changed.await;
        }
    }
}

/// Resolves on SIGTERM (Unix) or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// How a graceful shutdown runs.
#[derive(Clone, Debug)]
pub struct Graceful {
    lifecycle: Lifecycle,
    pre_stop: Duration,
    drain: Duration,
    flush: Duration,
    signals: bool,
    fail_unflushed: bool,
}

impl Default for Graceful {
    /// On SIGTERM or ctrl-c: no pre-stop delay, 10 s to drain, 5 s to flush.
    fn default() -> Self {
        Self {
            lifecycle: Lifecycle::new(),
            pre_stop: Duration::ZERO,
            drain: Duration::from_secs(10),
            flush: Duration::from_secs(5),
            signals: true,
            fail_unflushed: true,
        }
    }
}

/// What went wrong serving or shutting down.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The server failed.
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
    /// Telemetry was not flushed in time.
    #[error(transparent)]
    Shutdown(#[from] ShutdownError),
}

impl Graceful {
    /// The lifecycle to share with readiness checks; [`Lifecycle::start_draining`]
    /// starts the shutdown as a signal would.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// How long the listener keeps accepting once shutdown has started and
    /// readiness has turned false: the time a load balancer needs to stop
    /// sending (in Kubernetes, about the readiness probe's period). The whole
    /// shutdown takes at most pre-stop + drain + flush.
    pub fn pre_stop(mut self, delay: Duration) -> Self {
        self.pre_stop = delay;
        self
    }

    /// The longest in-flight requests may take once the listener has closed.
    pub fn drain(mut self, deadline: Duration) -> Self {
        self.drain = deadline;
        self
    }

    /// The longest flushing telemetry may take after draining.
    pub fn flush(mut self, deadline: Duration) -> Self {
        self.flush = deadline;
        self
    }

    /// Whether telemetry left unflushed at the flush deadline (a stalled
    /// collector) makes [`serve`](Self::serve) fail: by default it returns
    /// [`ServeError::Shutdown`], so a `main` that returns it exits with
    /// status 1; with `false` it returns `Ok` once the loss is logged (by
    /// [`Telemetry::shutdown`]'s warning and one more line with the error),
    /// so the process exits 0.
    pub fn fail_on_unflushed(mut self, fail: bool) -> Self {
        self.fail_unflushed = fail;
        self
    }

    /// Whether SIGTERM and ctrl-c start the shutdown (on by default); without
    /// them only [`Lifecycle::start_draining`] does.
    pub fn on_signals(mut self, signals: bool) -> Self {
        self.signals = signals;
        self
    }

    /// Serves `app` on `listener` until shutdown starts; then, with readiness
    /// already false, keeps accepting for the pre-stop delay, stops
    /// accepting, lets in-flight requests finish within the drain deadline,
    /// and flushes `telemetry` within the flush deadline.
    ///
    /// ```no_run
    /// # async fn demo(telemetry: throughline::pipeline::Telemetry) -> Result<(), Box<dyn std::error::Error>> {
    /// use throughline::Graceful;
    ///
    /// let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// Graceful::default().serve(listener, app, telemetry).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve(
        self,
        listener: TcpListener,
        app: axum::Router,
        telemetry: Telemetry,
    ) -> Result<(), ServeError> {
        let lifecycle = self.lifecycle.clone();
        let (signals, pre_stop) = (self.signals, self.pre_stop);
        let started = async move {
            if signals {
                tokio::select! {
                    () = shutdown_signal() => {}
                    () = lifecycle.draining() => {}
                }
            } else {
                lifecycle.draining().await;
            }
            // Readiness fails from here; the listener closes after the delay.
            lifecycle.start_draining();
            tokio::time::sleep(pre_stop).await;
        };
        let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(started)
            .into_future();
        let drained = async {
            self.lifecycle.draining().await;
            tokio::time::sleep(self.pre_stop + self.drain).await;
        };
        tokio::select! {
            served = server => served?,
            // Requests still running after the drain deadline are cut off.
            () = drained => {}
        }
        match telemetry.shutdown(self.flush).await {
            Err(error) if !self.fail_unflushed => {
                tracing::warn!(%error, "throughline: telemetry was not all flushed; exiting normally as configured");
                Ok(())
            }
            flushed => Ok(flushed?),
        }
    }
}
