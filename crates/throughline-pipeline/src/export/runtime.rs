//! The thread every exporter runs on.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::activity::ExportActivity;

/// A dedicated thread running a current-thread tokio runtime, where every
/// exporter's network I/O happens.
///
/// Not the application's runtime: a request never waits on an export, and a
/// current-thread runtime cannot deadlock on one. Not a bare thread either:
/// the OTLP exporters' gRPC and HTTP clients need a tokio reactor, and the
/// SDK's own background threads have none (the cause of the "no reactor
/// running" panics users meet with `opentelemetry-otlp`).
pub(crate) struct ExportRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ExportRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("throughline-export".into()).spawn(move || {
            // Everything on this thread is the exporters' own work.
            let _exporting = ExportActivity::enter();
            // Drives I/O and timers for every task spawned on the handle
            // until told to stop; dropping the runtime then cancels the rest.
            let _ = runtime.block_on(stopped);
        })?;
        Ok(Self { handle, stop: Some(stop), thread: Some(thread) })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` to completion on the export runtime from a thread that is
    /// not a runtime worker, such as the SDK's metric reader thread.
    #[cfg(any(feature = "grpc", feature = "http"))]
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        let _exporting = ExportActivity::enter();
        self.handle.block_on(future)
    }

    /// Stops the runtime and waits for its thread, when that cannot block a
    /// runtime worker.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if Handle::try_current().is_err()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        self.stop();
    }
}
