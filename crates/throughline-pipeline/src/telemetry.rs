//! What a built pipeline hands back: the providers, and the guard that
//! flushes them on shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::{Handle, RuntimeFlavor};

use throughline_propagation::HeadSampler;

use crate::config::Signal;
use crate::error::ShutdownError;
use crate::export::activity::ExportActivity;
use crate::export::batch::Counts;
use crate::export::deadline::ShutdownDeadline;
use crate::export::failure::ExportFailure;
use crate::export::runtime::ExportRuntime;
use crate::prometheus::Prometheus;
use crate::tail_sampling::{Reason, TailCounts};

/// The deadline the `Drop` fallback flushes with.
const DROP_DEADLINE: Duration = Duration::from_secs(5);

/// The providers of a built pipeline, and the guard that flushes them.
///
/// Call [`shutdown`](Self::shutdown) before the process exits: it flushes
/// traces, metrics and logs within a deadline, without blocking the runtime it
/// is awaited on. Dropping without it falls back to a best effort that never
/// blocks a runtime worker: outside a runtime it flushes on the spot; on a
/// multi-threaded runtime it flushes in `block_in_place`; on a current-thread
/// runtime it flushes on a detached thread, which the process may not wait for.
pub struct Telemetry {
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    /// The tracer provider's sampler, described for deciding up front.
    pub(crate) head_sampler: Option<HeadSampler>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) prometheus: Option<Prometheus>,
    pub(crate) counters: Counters,
    /// Where the exporters run; held so that it outlives every export.
    pub(crate) export_runtime: Option<Arc<ExportRuntime>>,
    /// Set when shutdown starts: no export runs past it.
    pub(crate) deadline: ShutdownDeadline,
    pub(crate) shut_down: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("tracer_provider", &self.tracer_provider)
            .field("meter_provider", &self.meter_provider)
            .field("logger_provider", &self.logger_provider)
            .finish_non_exhaustive()
    }
}

/// The counters behind [`Telemetry::stats`].
#[derive(Clone, Default)]
pub(crate) struct Counters {
    pub(crate) spans: Vec<Arc<Counts>>,
    pub(crate) logs: Vec<Arc<Counts>>,
    pub(crate) tail: Vec<Arc<TailCounts>>,
}

/// What the pipeline did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Spans an exporter accepted.
    pub spans_exported: u64,
    /// Spans dropped because an export queue was full, or because its export
    /// task had died.
    pub spans_dropped: u64,
    /// Spans in exports that failed or timed out.
    pub spans_failed: u64,
    /// Log records an exporter accepted.
    pub logs_exported: u64,
    /// Log records dropped because an export queue was full, or because its
    /// export task had died.
    pub logs_dropped: u64,
    /// Log records in exports that failed or timed out.
    pub logs_failed: u64,
    /// Traces tail sampling kept.
    pub traces_kept: u64,
    /// Traces tail sampling dropped.
    pub traces_dropped: u64,
    /// Export tasks that died (an exporter panicked); each was logged once,
    /// and [`Telemetry::shutdown`] reports it.
    pub export_tasks_died: u64,
}

impl Counters {
    pub(crate) fn stats(&self) -> ExportStats {
        let sum = |counts: &[Arc<Counts>], pick: fn(&Counts) -> &std::sync::atomic::AtomicU64| {
            counts.iter().map(|c| pick(c).load(Ordering::Relaxed)).sum()
        };
        let tail = |reasons: &[Reason]| -> u64 {
            self.tail.iter().flat_map(|t| reasons.iter().map(move |r| t.get(*r))).sum()
        };
        ExportStats {
            spans_exported: sum(&self.spans, |c| &c.exported),
            spans_dropped: sum(&self.spans, |c| &c.dropped) + sum(&self.spans, |c| &c.lost),
            spans_failed: sum(&self.spans, |c| &c.failed),
            logs_exported: sum(&self.logs, |c| &c.exported),
            logs_dropped: sum(&self.logs, |c| &c.dropped) + sum(&self.logs, |c| &c.lost),
            logs_failed: sum(&self.logs, |c| &c.failed),
            traces_kept: tail(&[Reason::Error, Reason::Slow, Reason::Ratio]),
            traces_dropped: tail(&[Reason::Healthy]),
            export_tasks_died: self.spans.iter().chain(&self.logs).filter(|c| c.died.get().is_some()).count()
                as u64,
        }
    }

    /// The first export task that died, and why.
    fn died(&self) -> Option<(Signal, String)> {
        let spans = self.spans.iter().map(|c| (Signal::Traces, c));
        let logs = self.logs.iter().map(|c| (Signal::Logs, c));
        spans.chain(logs).find_map(|(signal, c)| c.died.get().map(|reason| (signal, reason.clone())))
    }
}

impl Telemetry {
    /// A pipeline that produces nothing (`OTEL_SDK_DISABLED=true`).
    pub(crate) fn disabled() -> Self {
        Self {
            tracer_provider: None,
            head_sampler: None,
            meter_provider: None,
            logger_provider: None,
            prometheus: None,
            counters: Counters::default(),
            export_runtime: None,
            deadline: ShutdownDeadline::default(),
            shut_down: false,
        }
    }

    /// The tracer provider; `None` when traces are disabled.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The tracer provider's head sampler, described so that throughline's
    /// layers can tell an unrecorded request before building its span;
    /// `None` when traces are disabled. `throughline::init()` publishes it
    /// with [`HeadSampler::set_global`].
    pub fn head_sampler(&self) -> Option<HeadSampler> {
        self.head_sampler
    }

    /// The meter provider; `None` when metrics are disabled.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The logger provider; `None` when log export is disabled.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// The `/metrics` endpoint, when the Prometheus exporter is configured.
    pub fn prometheus(&self) -> Option<&Prometheus> {
        self.prometheus.as_ref()
    }

    /// What the pipeline did so far: exported, dropped and failed items, and
    /// tail sampling decisions.
    pub fn stats(&self) -> ExportStats {
        self.counters.stats()
    }

    /// The spans and log records that failed to export, by signal and
    /// reason (also the `error.type` of the `otel.sdk.exporter.*.exported`
    /// metrics).
    pub fn export_failures(&self) -> Vec<ExportFailure> {
        let spans = self.counters.spans.iter().map(|c| (Signal::Traces, c));
        let logs = self.counters.logs.iter().map(|c| (Signal::Logs, c));
        spans
            .chain(logs)
            .flat_map(|(signal, counts)| {
                counts.reasons.get().into_iter().map(move |(reason, items)| ExportFailure {
                    signal,
                    reason,
                    items,
                })
            })
            .collect()
    }

    /// Flushes traces, metrics and logs within `deadline`, then stops the
    /// pipeline. The blocking SDK calls run on a thread of their own, so the
    /// awaiting runtime, current-thread ones included, keeps serving.
    ///
    /// The three signals are flushed at the same time, each with the whole
    /// `deadline`; no export runs past it (one still running then is
    /// cancelled, its items counted as failed), and neither does a retry. If
    /// anything was lost in the process's life, one warning says how much
    /// of each signal. An export task that died earlier is reported as
    /// [`ShutdownError::ExportTaskDied`], whatever else happened.
    pub async fn shutdown(mut self, deadline: Duration) -> Result<(), ShutdownError> {
        self.deadline.set(Instant::now() + deadline);
        let flushed = self.flush_and_stop(deadline).await;
        let stats = self.stats();
        let (spans_lost, logs_lost) =
            (stats.spans_failed + stats.spans_dropped, stats.logs_failed + stats.logs_dropped);
        if spans_lost + logs_lost > 0 {
            tracing::warn!(
                spans_lost,
                logs_lost,
                spans_exported = stats.spans_exported,
                logs_exported = stats.logs_exported,
                "throughline: telemetry shut down; some never reached the collector (dropped on a full queue or in failed exports)"
            );
        }
        match self.counters.died() {
            Some((signal, reason)) => Err(ShutdownError::ExportTaskDied { signal, reason }),
            None => flushed,
        }
    }

    async fn flush_and_stop(&mut self, deadline: Duration) -> Result<(), ShutdownError> {
        self.shut_down = true;
        let providers = self.providers();
        let (done, finished) = tokio::sync::oneshot::channel();
        let flushing = std::thread::Builder::new().name("throughline-shutdown".into()).spawn(move || {
            let _ = done.send(providers.shutdown(deadline));
        });
        if flushing.is_err() {
            // No thread to spare: flushing here may block this task, but loses nothing.
            return self.providers().shutdown(deadline);
        }
        match tokio::time::timeout(deadline + Duration::from_millis(100), finished).await {
            Ok(Ok(result)) => result,
            _ => Err(ShutdownError::DeadlineExceeded(deadline)),
        }
    }

    fn providers(&self) -> Providers {
        Providers {
            traces: self.tracer_provider.clone(),
            metrics: self.meter_provider.clone(),
            logs: self.logger_provider.clone(),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.shut_down {
            return;
        }
        let providers = self.providers();
        match Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Err(_) => {
                let _ = providers.shutdown(DROP_DEADLINE);
            }
            Ok(RuntimeFlavor::MultiThread) => {
                let _ = tokio::task::block_in_place(|| providers.shutdown(DROP_DEADLINE));
            }
            Ok(_) => {
                tracing::warn!(
                    "throughline: Telemetry dropped on a current-thread runtime without `shutdown().await`; \
                     flushing on a detached thread, which the process may not wait for"
                );
                let export_runtime = self.export_runtime.clone();
                let _ = std::thread::Builder::new().spawn(move || {
                    let flushed = providers.shutdown(DROP_DEADLINE);
                    drop(export_runtime);
                    flushed
                });
            }
        }
    }
}

/// The providers to flush, movable to another thread.
struct Providers {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    logs: Option<SdkLoggerProvider>,
}

impl Providers {
    /// Flushes and shuts down the providers at the same time, each within
    /// the whole deadline, so that a slow signal leaves the others theirs.
    fn shutdown(self, deadline: Duration) -> Result<(), ShutdownError> {
        let started = Instant::now();
        let traces = self.traces.map(|p| -> Box<dyn FnOnce() -> OTelSdkResult + Send> {
            Box::new(move || p.shutdown_with_timeout(deadline))
        });
        let logs = self.logs.map(|p| -> Box<dyn FnOnce() -> OTelSdkResult + Send> {
            Box::new(move || p.shutdown_with_timeout(deadline))
        });
        let metrics = self.metrics.map(|p| -> Box<dyn FnOnce() -> OTelSdkResult + Send> {
            Box::new(move || p.shutdown_with_timeout(deadline))
        });
        let outcomes: Vec<(Signal, OTelSdkResult)> = std::thread::scope(|scope| {
            let running: Vec<_> =
                [(Signal::Traces, traces), (Signal::Logs, logs), (Signal::Metrics, metrics)]
                    .into_iter()
                    .filter_map(|(signal, flush)| flush.map(|flush| (signal, flush)))
                    .map(|(signal, flush)| {
                        let marked = move || {
                            let _exporting = ExportActivity::enter();
                            flush()
                        };
                        // No thread to spare: that signal is reported unflushed.
                        match std::thread::Builder::new()
                            .name("throughline-flush".into())
                            .spawn_scoped(scope, marked)
                        {
                            Ok(thread) => (signal, Ok(thread)),
                            Err(error) => (signal, Err(error)),
                        }
                    })
                    .collect();
            running
                .into_iter()
                .map(|(signal, thread)| {
                    let outcome = match thread {
                        Ok(thread) => thread.join().unwrap_or_else(|_| {
                            Err(OTelSdkError::InternalFailure("flushing panicked".to_owned()))
                        }),
                        Err(error) => {
                            Err(OTelSdkError::InternalFailure(format!("no thread to flush on: {error}")))
                        }
                    };
                    (signal, outcome)
                })
                .collect()
        });
        let mut result = Ok(());
        for (signal, outcome) in outcomes {
            if let Err(error) = outcome
                && result.is_ok()
            {
                // The SDK wraps a processor's timeout in its own error
                // ("Shutdown errors: [Timeout(..)]"); a failure once the
                // deadline has passed is the deadline's too.
                let late = started.elapsed() >= deadline || error.to_string().contains("Timeout(");
                result = Err(match error {
                    OTelSdkError::Timeout(_) => ShutdownError::DeadlineExceeded(deadline),
                    _ if late => ShutdownError::DeadlineExceeded(deadline),
                    other => ShutdownError::Flush { signal, message: other.to_string() },
                });
            }
        }
        result
    }
}
