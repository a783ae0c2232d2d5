//! Batching with a bounded queue: items are never waited on, and those that
//! do not fit are dropped and counted. Each export is bounded in items, in
//! bytes, in time (its timeout, and the shutdown deadline), and in damage: an
//! exporter that panics ends the worker loudly, never silently.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::config::{BatchConfig, Signal};
use crate::export::deadline::ShutdownDeadline;
use crate::export::failure::{self, Reasons};
use crate::export::size::EncodedSize;

/// Where a batch goes.
pub(crate) trait Sink<T>: Send + 'static {
    /// Sends one batch.
    fn export(&self, batch: Vec<T>) -> impl Future<Output = OTelSdkResult> + Send;
    /// Releases the exporter.
    fn shutdown(&self) -> OTelSdkResult;
}

/// What happened to the items a batcher was given.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Handed to an exporter that reported success.
    pub(crate) exported: AtomicU64,
    /// Dropped because the queue was full.
    pub(crate) dropped: AtomicU64,
    /// Handed to an exporter that failed or timed out.
    pub(crate) failed: AtomicU64,
    /// Dropped because the export task had died.
    pub(crate) lost: AtomicU64,
    /// The failed items by reason.
    pub(crate) reasons: Reasons,
    /// Why the export task died, once it has.
    pub(crate) died: OnceLock<String>,
    /// Whether the last export failed: a failure after a success is logged,
    /// the ones after it only counted.
    failing: AtomicBool,
}

impl Counts {
    /// Records that the export task died, and logs it, once.
    fn die(&self, signal: Signal, reason: String) {
        let logged = reason.clone();
        if self.died.set(reason).is_ok() {
            tracing::error!(
                signal = ?signal,
                reason = %logged,
                "throughline: the export task died; from now on this signal is dropped and counted"
            );
        }
    }

    /// The error a caller gets once the worker is gone: why it died, or that
    /// it was shut down.
    fn gone(&self, signal: Signal) -> OTelSdkError {
        match self.died.get() {
            Some(reason) => {
                OTelSdkError::InternalFailure(format!("the {signal:?} export task died: {reason}"))
            }
            None => OTelSdkError::AlreadyShutdown,
        }
    }
}

/// A request to the worker, with the instant by which it must be answered.
enum Control {
    Flush(std_mpsc::Sender<OTelSdkResult>, std::time::Instant),
    Shutdown(std_mpsc::Sender<OTelSdkResult>, std::time::Instant),
}

/// The producer side: cheap to call from any thread, never blocks.
#[derive(Debug)]
pub(crate) struct Batcher<T> {
    items: mpsc::Sender<T>,
    control: mpsc::UnboundedSender<Control>,
    counts: Arc<Counts>,
    signal: Signal,
    deadline: ShutdownDeadline,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Flush(..) => "Flush",
            Self::Shutdown(..) => "Shutdown",
        })
    }
}

impl<T: EncodedSize + Send + 'static> Batcher<T> {
    /// Starts the worker on the export runtime. If the exporter panics, the
    /// worker answers whoever waits on that export with why, logs it once,
    /// keeps it in [`Counts::died`] and ends.
    ///
    /// `destination` (an endpoint, "standard output") names where exports go
    /// in errors and logs.
    pub(crate) fn start(
        sink: impl Sink<T>,
        config: BatchConfig,
        runtime: &Handle,
        signal: Signal,
        destination: String,
        deadline: ShutdownDeadline,
    ) -> Self {
        let (items, received) = mpsc::channel(config.max_queue_size);
        let (control, controls) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        let worker = Worker { sink, config, counts: counts.clone(), batch: Vec::new(), signal, destination };
        let watched = counts.clone();
        runtime.spawn(async move {
            // A panic in the worker's own code: recorded too, though a waiter
            // may hear "already shut down" before it is.
            if let Err(reason) = caught(worker.run(received, controls)).await {
                watched.die(signal, reason);
            }
        });
        Self { items, control, counts, signal, deadline }
    }

    /// Queues `item`, or drops and counts it when the queue is full or the
    /// worker is gone.
    pub(crate) fn push(&self, item: T) {
        match self.items.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counts.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn counts(&self) -> &Arc<Counts> {
        &self.counts
    }

    /// Items waiting in the queue.
    pub(crate) fn queued(&self) -> usize {
        self.items.max_capacity() - self.items.capacity()
    }

    /// Exports everything queued, waiting at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.request(Control::Flush, timeout)
    }

    /// Exports everything queued and releases the exporter, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.request(Control::Shutdown, timeout)
    }

    /// Asks the worker, which answers by `timeout` or the shutdown deadline,
    /// whichever comes first: an export still running then is cancelled.
    fn request(
        &self,
        make: fn(std_mpsc::Sender<OTelSdkResult>, std::time::Instant) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let by = self.deadline.bound(timeout);
        let (reply, replied) = std_mpsc::channel();
        self.control.send(make(reply, by)).map_err(|_| self.counts.gone(self.signal))?;
        // A moment more than the worker has, so that its answer (which
        // counts what it could not send) is the one heard.
        let wait = by.saturating_duration_since(std::time::Instant::now()) + ANSWER_GRACE;
        match replied.recv_timeout(wait) {
            Ok(result) => result,
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(self.counts.gone(self.signal)),
        }
    }
}

/// How much longer than the worker a caller waits for its answer.
const ANSWER_GRACE: Duration = Duration::from_millis(20);

/// Runs `future`, turning a panic into its message.
async fn caught<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Err(panic) => Poll::Ready(Err(panic_message(panic.as_ref()))),
    })
    .await
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (_, Some(message)) => message.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

struct Worker<T, S> {
    sink: S,
    config: BatchConfig,
    counts: Arc<Counts>,
    batch: Vec<T>,
    signal: Signal,
    destination: String,
}

impl<T: EncodedSize + Send + 'static, S: Sink<T>> Worker<T, S> {
    async fn run(mut self, mut items: mpsc::Receiver<T>, mut controls: mpsc::UnboundedReceiver<Control>) {
        // The first export is one delay after the start, not at once: items
        // queued before the worker first runs wait for their batch like any.
        let delay = self.config.scheduled_delay;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + delay, delay);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                control = controls.recv() => {
                    // Everything queued before the request goes out with it.
                    while let Ok(item) = items.try_recv() {
                        self.batch.push(item);
                    }
                    let by = match &control {
                        Some(Control::Flush(_, by) | Control::Shutdown(_, by)) => Some(tokio::time::Instant::from_std(*by)),
                        None => None,
                    };
                    let result = self.export_all(by).await;
                    // Before the answer: whatever comes after it must be counted as lost.
                    self.close_if_dead(&mut items);
                    match control {
                        Some(Control::Flush(reply, _)) => { let _ = reply.send(result); }
                        Some(Control::Shutdown(reply, _)) => {
                            let _ = reply.send(result.and(self.sink.shutdown()));
                            return;
                        }
                        None => return,
                    }
                }
                item = items.recv() => match item {
                    Some(item) => {
                        self.batch.push(item);
                        if self.batch.len() >= self.config.max_export_batch_size {
                            let _ = self.export_all(None).await;
                        }
                    }
                    None => {
                        let _ = self.export_all(None).await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    let _ = self.export_all(None).await;
                }
            }
            if self.close_if_dead(&mut items) {
                return;
            }
        }
    }

    /// How many of the next items make one export: at most the batch size,
    /// at most `max_export_bytes` (at least one item, cut down to fit).
    fn chunk_len(&mut self) -> usize {
        let limit = self.config.max_export_bytes;
        let (mut take, mut bytes) = (0, 0);
        for item in self.batch.iter_mut().take(self.config.max_export_batch_size) {
            let mut size = item.encoded_size();
            if size > limit {
                item.truncate_to(limit);
                size = item.encoded_size();
            }
            if take > 0 && bytes + size > limit {
                break;
            }
            take += 1;
            bytes += size;
        }
        take.max(1)
    }

    /// Counts `size` failed items; the first failure after a success is logged.
    fn failed(&self, size: u64, error: &OTelSdkError) {
        self.counts.failed.fetch_add(size, Ordering::Relaxed);
        self.counts.reasons.add(failure::reason(error), size);
        if !self.counts.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                signal = ?self.signal,
                destination = %self.destination,
                %error,
                "throughline: export failed; failed items are counted, and further failures are not logged until an export succeeds"
            );
        }
    }

    /// When the exporter has panicked, nothing more goes to it: the queue is
    /// closed, and what it held counted as lost.
    fn close_if_dead(&self, items: &mut mpsc::Receiver<T>) -> bool {
        if self.counts.died.get().is_none() {
            return false;
        }
        items.close();
        while items.try_recv().is_ok() {
            self.counts.lost.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Exports the batch in chunks of the configured size, each within the
    /// export timeout and never past `by`; what is left at `by` is counted
    /// as failed. The first error wins.
    async fn export_all(&mut self, by: Option<tokio::time::Instant>) -> OTelSdkResult {
        let mut result = Ok(());
        while !self.batch.is_empty() {
            let now = tokio::time::Instant::now();
            let own = now + self.config.export_timeout;
            let until = by.map_or(own, |by| by.min(own));
            if until <= now {
                let error = OTelSdkError::Timeout(Duration::ZERO);
                self.failed(self.batch.len() as u64, &error);
                self.batch.clear();
                return result.and(Err(error));
            }
            let take = self.chunk_len();
            let chunk: Vec<T> = self.batch.drain(..take).collect();
            let size = chunk.len() as u64;
            let exported = tokio::time::timeout_at(until, caught(self.sink.export(chunk))).await;
            match exported {
                Ok(Ok(Ok(()))) => {
                    self.counts.exported.fetch_add(size, Ordering::Relaxed);
                    if self.counts.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(signal = ?self.signal, destination = %self.destination, "throughline: export recovered");
                    }
                }
                Ok(Err(reason)) => {
                    let size = size + self.batch.len() as u64;
                    self.batch.clear();
                    self.counts.failed.fetch_add(size, Ordering::Relaxed);
                    self.counts.reasons.add("exporter_panicked".to_owned(), size);
                    self.counts.die(self.signal, reason);
                    return Err(self.counts.gone(self.signal));
                }
                Ok(Ok(Err(error))) => {
                    let error = OTelSdkError::InternalFailure(format!(
                        "exporting {size} {:?} items to {} failed: {error}",
                        self.signal, self.destination
                    ));
                    self.failed(size, &error);
                    result = result.and(Err(error));
                }
                Err(_) => {
                    let error = OTelSdkError::Timeout(until - now);
                    self.failed(size, &error);
                    result = result.and(Err(error));
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<Vec<Vec<u32>>>>);

    impl Sink<u32> for Recorded {
        async fn export(&self, batch: Vec<u32>) -> OTelSdkResult {
            self.0.lock().unwrap().push(batch);
            Ok(())
        }
        fn shutdown(&self) -> OTelSdkResult {
            Ok(())
        }
    }

    /// A sink that never answers, like a collector that hangs.
    struct Hanging;

    impl Sink<u32> for Hanging {
        async fn export(&self, _batch: Vec<u32>) -> OTelSdkResult {
            std::future::pending().await
        }
        fn shutdown(&self) -> OTelSdkResult {
            Ok(())
        }
    }

    fn config(queue: usize, batch: usize) -> BatchConfig {
        BatchConfig {
            max_queue_size: queue,
            max_export_batch_size: batch,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_millis(50),
            max_export_bytes: usize::MAX,
        }
    }

    fn start<S: Sink<u32>>(
        sink: S,
        config: BatchConfig,
        runtime: &crate::export::runtime::ExportRuntime,
    ) -> Batcher<u32> {
        Batcher::start(
            sink,
            config,
            runtime.handle(),
            Signal::Traces,
            "a test sink".into(),
            ShutdownDeadline::default(),
        )
    }

    fn runtime() -> crate::export::runtime::ExportRuntime {
        crate::export::runtime::ExportRuntime::start().unwrap()
    }

    #[test]
    fn flush_exports_everything_queued_in_batches() {
        let runtime = runtime();
        let sink = Recorded::default();
        let batcher = start(sink.clone(), config(100, 4), &runtime);
        for i in 0..10 {
            batcher.push(i);
        }
        batcher.flush(Duration::from_secs(5)).unwrap();
        let batches = sink.0.lock().unwrap().clone();
        assert_eq!(batches.concat(), (0..10).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| b.len() <= 4));
        assert_eq!(batcher.counts().exported.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let runtime = runtime();
        let batcher = start(Hanging, config(8, 8), &runtime);
        // Whether or not the worker has taken a batch of 8 into its hanging
        // export yet, at most 16 of the 108 items find room.
        for i in 0..108 {
            batcher.push(i);
        }
        let dropped = batcher.counts().dropped.load(Ordering::Relaxed);
        assert!(dropped >= 92, "{dropped}");
        assert!(batcher.queued() <= 8);
    }

    #[test]
    fn a_hanging_export_times_out_and_is_counted_as_failed() {
        let runtime = runtime();
        let batcher = start(Hanging, config(8, 8), &runtime);
        batcher.push(1);
        let result = batcher.flush(Duration::from_secs(5));
        assert!(matches!(result, Err(OTelSdkError::Timeout(_))), "{result:?}");
        assert_eq!(batcher.counts().failed.load(Ordering::Relaxed), 1);
        assert_eq!(batcher.counts().reasons.get(), [("timeout".to_owned(), 1)]);
    }

    #[test]
    fn shutdown_exports_what_is_left() {
        let runtime = runtime();
        let sink = Recorded::default();
        let batcher = start(sink.clone(), config(100, 100), &runtime);
        batcher.push(7);
        batcher.shutdown(Duration::from_secs(5)).unwrap();
        assert_eq!(sink.0.lock().unwrap().concat(), [7]);
        assert!(batcher.flush(Duration::from_secs(1)).is_err(), "the worker is gone");
    }
}
