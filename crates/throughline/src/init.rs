//! `init()`: everything installed from the environment in one call.

use std::io::IsTerminal;
use std::time::Duration;

use crate::graceful::{Graceful, Lifecycle, ServeError};
use opentelemetry::trace::{Status, TracerProvider as _};
use throughline_pipeline::{
    ConfigError, Env, ExportStats, Pipeline, PipelineBuilder, PipelineError, Prometheus, ShutdownError,
    TailSampling, Telemetry, Vars,
};
use throughline_propagation::{Propagator, PropagatorConfigError};
use throughline_subscriber::{
    ContextEventsLayer, ContextLayer, Json, Logfmt, LogsLayer, NonBlockingWriter, Redacted, Redaction,
    SpanMetricsLayer, WorkerGuard,
};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt::format::{DefaultFields, FmtSpan, PrettyFields};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::export_filter::NotExportActivity;
use crate::health::Health;

/// Installs throughline from the environment: the tracing subscriber (the
/// `RUST_LOG` filter, fields inherited from parent spans, log lines carrying
/// the trace, the OpenTelemetry layer with `ContextEventsLayer` beside it,
/// log export, metrics derived from spans, all redacted), the tracer and
/// meter providers, throughline's propagator, and the head sampler that
/// describes the tracer provider's sampler, all globally. With that sampler
/// published, throughline's server and client layers build no span for a
/// request nobody records, and build a recorded one's directly with the
/// global tracer provider (see throughline-tower's `HeadSampling`).
///
/// Reads `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_*`,
/// `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`,
/// `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_PROPAGATORS`, `OTEL_SDK_DISABLED`,
/// `OTEL_BSP_*`, `RUST_LOG` and `THROUGHLINE_LOG_FORMAT`. An invalid value is an
/// error naming its variable; nothing is installed then. Use [`Init`] to set
/// things in code.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let telemetry = throughline::init()?;
///     tracing::info!("started");
///     // ... serve ...
///     telemetry.shutdown(std::time::Duration::from_secs(5)).await?;
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Guard, InitError> {
    Init::from_env()?.install()
}

/// How log lines are written to standard output. Every format redacts
/// secrets; logfmt and JSON lines also carry the `trace_id`, `span_id` and
/// the fields inherited from enclosing spans (see
/// [`throughline_subscriber::Json`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Multi-line and coloured, for a terminal.
    Pretty,
    /// One line per event, human-readable.
    Compact,
    /// One logfmt line (`key=value ...`) per event, for log pipelines.
    Logfmt,
    /// One JSON object per event, for log pipelines.
    Json,
    /// No log lines on standard output (they may still be exported).
    Off,
}

impl LogFormat {
    /// The variable that chooses the format.
    pub const ENV: &'static str = "THROUGHLINE_LOG_FORMAT";

    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "pretty" => Some(Self::Pretty),
            "compact" => Some(Self::Compact),
            "logfmt" => Some(Self::Logfmt),
            "json" => Some(Self::Json),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }

    /// Pretty on a terminal, JSON otherwise.
    fn detect() -> Self {
        if std::io::stdout().is_terminal() { Self::Pretty } else { Self::Json }
    }
}

/// Why [`init`] installed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A variable or builder value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `OTEL_PROPAGATORS` is invalid.
    #[error(transparent)]
    Propagators(#[from] PropagatorConfigError),
    /// The pipeline could not be built.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Another global subscriber was installed first.
    #[error("a global tracing subscriber is already installed: init() must run once, before any other")]
    AlreadyInitialized,
}

/// `init()` with settings in code, which win over the environment.
///
/// ```no_run
/// # fn main() -> Result<(), throughline::InitError> {
/// use throughline::{Init, LogFormat};
///
/// let telemetry = Init::from_env()?
///     .service_name("orders")
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .log_format(LogFormat::Json)
///     .install()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Init {
    pipeline: PipelineBuilder,
    propagator: Propagator,
    filter: (&'static str, String),
    format: LogFormat,
    span_events: FmtSpan,
    redaction: Redaction,
}

impl Init {
    /// Settings from the process environment.
    pub fn from_env() -> Result<Self, InitError> {
        Self::from_vars(&Env)
    }

    /// Settings from any source of variables, such as a map in tests.
    pub fn from_vars(vars: &impl Vars) -> Result<Self, InitError> {
        let value = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let propagator = match value(Propagator::ENV) {
            Some(list) => list.parse()?,
            None => Propagator::default(),
        };
        let format = match value(LogFormat::ENV) {
            Some(name) => LogFormat::parse(&name).ok_or_else(|| ConfigError {
                variable: LogFormat::ENV.to_owned(),
                value: name.clone(),
                problem: "expected pretty, compact, logfmt, json or off".to_owned(),
            })?,
            None => LogFormat::detect(),
        };
        let filter = ("RUST_LOG", value("RUST_LOG").unwrap_or_else(|| "info".to_owned()));
        check_filter(&filter)?;
        Ok(Self {
            pipeline: Pipeline::from_vars(vars)?,
            propagator,
            filter,
            format,
            span_events: FmtSpan::NONE,
            redaction: Redaction::default(),
        })
    }

    /// `service.name`, over `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.pipeline = self.pipeline.service_name(name);
        self
    }

    /// `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.pipeline = self.pipeline.service_version(version);
        self
    }

    /// `deployment.environment.name`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.pipeline = self.pipeline.environment(environment);
        self
    }

    /// Tail sampling of local traces; see [`TailSampling`].
    pub fn tail_sampling(mut self, policy: TailSampling) -> Self {
        self.pipeline = self.pipeline.tail_sampling(policy);
        self
    }

    /// The log line format, over `THROUGHLINE_LOG_FORMAT`.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Also writes a line when spans open or close (fmt's [`FmtSpan`]); in
    /// logfmt and JSON, a close line carries `latency_ms`.
    pub fn log_span_events(mut self, kind: FmtSpan) -> Self {
        self.span_events = kind;
        self
    }

    /// The redaction policy for log lines, exported log records and exported
    /// spans (their attributes, events, links and status), instead of
    /// [`Redaction::default`]. [`Redaction::none`] turns redaction off.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), throughline::InitError> {
    /// use throughline::Init;
    /// use throughline::subscriber::Redaction;
    ///
    /// let telemetry = Init::from_env()?.redaction(Redaction::default().field("ssn")).install()?;
    /// # Ok(()) }
    /// ```
    pub fn redaction(mut self, policy: Redaction) -> Self {
        self.redaction = policy;
        self
    }

    /// The filter directives, in `RUST_LOG` syntax, over `RUST_LOG`.
    pub fn log_filter(mut self, directives: impl Into<String>) -> Result<Self, InitError> {
        self.filter = ("log_filter", directives.into());
        check_filter(&self.filter)?;
        Ok(self)
    }

    /// The propagator, over `OTEL_PROPAGATORS`.
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }

    /// The pipeline builder, for what `Init` does not expose.
    pub fn pipeline(mut self, change: impl FnOnce(PipelineBuilder) -> PipelineBuilder) -> Self {
        self.pipeline = change(self.pipeline);
        self
    }

    /// Feeds `viewer` in-process: every sampled span, after the same
    /// redaction as exported spans, and every log record emitted inside a
    /// trace, whatever `OTEL_TRACES_EXPORTER` and `OTEL_LOGS_EXPORTER` say.
    /// Mount its UI with `viewer.debug_router(Access::Loopback)` at
    /// `/debug/traces`.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use throughline::Init;
    /// use throughline::viewer::{Access, Viewer};
    ///
    /// let viewer = Viewer::default();
    /// let telemetry = Init::from_env()?.viewer(&viewer).install()?;
    /// let app = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "ok" }))
    ///     .nest("/debug/traces", viewer.debug_router(Access::Loopback));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// telemetry.serve(listener, app, std::time::Duration::from_secs(10)).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "viewer")]
    pub fn viewer(self, viewer: &throughline_viewer::Viewer) -> Self {
        self.pipeline(|pipeline| {
            pipeline.span_processor(viewer.span_processor()).log_processor(viewer.log_processor())
        })
    }

    /// Builds and installs everything globally.
    pub fn install(self) -> Result<Guard, InitError> {
        let redaction = self.redaction;
        let mut pipeline = self.pipeline;
        if !redaction.is_none() {
            let policy = redaction.clone();
            pipeline = pipeline.transform_spans(move |span| {
                // What a span carries that came from data rather than code.
                policy.redact_in_place(&mut span.name);
                policy.redact_attributes(&mut span.attributes);
                for event in span.events.events.iter_mut() {
                    policy.redact_in_place(&mut event.name);
                    policy.redact_attributes(&mut event.attributes);
                }
                for link in span.links.links.iter_mut() {
                    policy.redact_attributes(&mut link.attributes);
                }
                if let Status::Error { description } = &mut span.status {
                    policy.redact_in_place(description);
                }
            });
        }
        let telemetry = pipeline.build()?;
        let filter = EnvFilter::try_new(&self.filter.1).map_err(|e| filter_error(&self.filter, e))?;
        let (writer, flush) = NonBlockingWriter::stdout();
        if let Some(provider) = telemetry.meter_provider() {
            writer.observe(provider);
        }
        let format = log_lines(self.format, self.span_events, &redaction, writer.clone());
        // The exporter's own work is not exported; see `NotExportActivity`.
        // Events in no `tracing` span go to the span the server layers
        // built directly (see `ContextEventsLayer`).
        let traces = telemetry.tracer_provider().map(|provider| {
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("throughline"))
                .and_then(ContextEventsLayer::new())
                .with_filter(NotExportActivity)
        });
        let logs = telemetry.logger_provider().map(|provider| {
            LogsLayer::new(provider).with_redaction(redaction.clone()).with_filter(NotExportActivity)
        });
        let span_metrics = telemetry.meter_provider().map(SpanMetricsLayer::new);
        // The fmt layer sees a span close before the OpenTelemetry layer ends
        // it, so that close lines still find their ids.
        #[cfg(not(feature = "tokio-console"))]
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(ContextLayer::new())
            .with(format)
            .with(traces)
            .with(logs)
            .with(span_metrics);
        // The same layers under the `RUST_LOG` filter, beside tokio-console's,
        // which must see tokio's own spans whatever `RUST_LOG` says.
        #[cfg(feature = "tokio-console")]
        let subscriber = tracing_subscriber::registry().with(console_layer()).with(
            ContextLayer::new()
                .and_then(format)
                .and_then(traces)
                .and_then(logs)
                .and_then(span_metrics)
                .with_filter(filter),
        );
        tracing::subscriber::set_global_default(subscriber).map_err(|_| InitError::AlreadyInitialized)?;

        // throughline's layers and OpenTelemetry's global API alike.
        self.propagator.set_global();
        opentelemetry::global::set_text_map_propagator(self.propagator);
        if let Some(provider) = telemetry.tracer_provider() {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        // What lets the layers skip the span of a request nobody records,
        // and build a recorded one with the global tracer provider above.
        if let Some(head) = telemetry.head_sampler() {
            head.set_global();
        }
        if let Some(provider) = telemetry.meter_provider() {
            opentelemetry::global::set_meter_provider(provider.clone());
        }
        Ok(Guard { health: Health::new(Lifecycle::new()), telemetry, log_lines: LogLines { writer, flush } })
    }
}

/// The layer writing log lines to standard output in `format`, through the
/// non-blocking `writer`, redacted.
fn log_lines<S>(
    format: LogFormat,
    span_events: FmtSpan,
    redaction: &Redaction,
    writer: NonBlockingWriter,
) -> Option<Box<dyn Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = match format {
        LogFormat::Pretty => {
            let mut layer = tracing_subscriber::fmt::layer()
                .event_format(Redacted::new(tracing_subscriber::fmt::format().pretty(), redaction.clone()))
                .fmt_fields(Redacted::new(PrettyFields::new(), redaction.clone()))
                .with_writer(writer);
            layer.set_span_events(span_events);
            layer.boxed()
        }
        LogFormat::Compact => tracing_subscriber::fmt::layer()
            .compact()
            .with_span_events(span_events)
            .fmt_fields(Redacted::new(DefaultFields::new(), redaction.clone()))
            .with_writer(writer)
            .boxed(),
        LogFormat::Logfmt => Logfmt::default()
            .with_redaction(redaction.clone())
            .with_span_events(span_events)
            .layer()
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => Json::default()
            .with_redaction(redaction.clone())
            .with_span_events(span_events)
            .layer()
            .with_writer(writer)
            .boxed(),
        LogFormat::Off => return None,
    };
    Some(layer)
}

/// What `init()` says when the `tokio-console` feature is on but the binary
/// was built without `--cfg tokio_unstable`, when tokio records nothing for
/// the console to show.
#[cfg(feature = "tokio-console")]
pub const TOKIO_CONSOLE_NEEDS_UNSTABLE: &str = "throughline: the tokio-console feature is on, but this binary was \
     built without RUSTFLAGS=\"--cfg tokio_unstable\": tokio records no task data, so the console layer is \
     not installed";

/// tokio-console's layer, serving the console on `TOKIO_CONSOLE_BIND`
/// (127.0.0.1:6669 by default) from a thread of its own; `None`, said once
/// on standard error, when tokio was built without its task data.
#[cfg(feature = "tokio-console")]
fn console_layer<S>() -> Option<impl Layer<S>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    if !cfg!(tokio_unstable) {
        eprintln!("{TOKIO_CONSOLE_NEEDS_UNSTABLE}");
        return None;
    }
    Some(console_subscriber::ConsoleLayer::builder().with_default_env().spawn())
}

#[cfg(all(test, feature = "tokio-console", not(tokio_unstable)))]
mod tokio_console_tests {
    #[test]
    fn without_tokio_unstable_the_console_layer_is_not_installed() {
        assert!(super::console_layer::<tracing_subscriber::Registry>().is_none());
    }
}

fn check_filter(filter: &(&'static str, String)) -> Result<(), ConfigError> {
    EnvFilter::try_new(&filter.1).map(|_| ()).map_err(|e| filter_error(filter, e))
}

fn filter_error((source, directives): &(&'static str, String), error: impl std::fmt::Display) -> ConfigError {
    ConfigError { variable: (*source).to_owned(), value: directives.clone(), problem: error.to_string() }
}

/// What [`init`] installed: flush it with [`shutdown`](Self::shutdown) before
/// the process exits, and serve its [`Health`] routes.
#[derive(Debug)]
pub struct Guard {
    telemetry: Telemetry,
    health: Health,
    log_lines: LogLines,
}

/// Log lines on their way to standard output: queued, and written by a
/// thread of their own, which dropping `flush` waits for (at most about a
/// second).
#[derive(Debug)]
struct LogLines {
    writer: NonBlockingWriter,
    flush: WorkerGuard,
}

impl LogLines {
    /// Writes what is queued, waiting on a thread of its own rather than on
    /// the caller's runtime.
    async fn flush(self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            drop(self.flush);
            let _ = done.send(());
        });
        let _ = flushed.await;
    }
}

impl Guard {
    /// The health endpoints, whose readiness follows this guard's shutdown.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The Prometheus `/metrics` endpoint, when `OTEL_METRICS_EXPORTER` includes `prometheus`.
    pub fn prometheus(&self) -> Option<&Prometheus> {
        self.telemetry.prometheus()
    }

    /// What the export pipeline did so far.
    pub fn stats(&self) -> ExportStats {
        self.telemetry.stats()
    }

    /// How many log lines were dropped because standard output did not keep
    /// up (also the metric `throughline.log.lines.dropped`).
    pub fn dropped_log_lines(&self) -> u64 {
        self.log_lines.writer.dropped_lines()
    }

    /// The pipeline's providers.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Marks the service as shutting down, then flushes traces, metrics and
    /// logs within `deadline`, and the log lines still queued for standard
    /// output.
    pub async fn shutdown(self, deadline: Duration) -> Result<(), ShutdownError> {
        self.health.lifecycle().start_draining();
        let flushed = self.telemetry.shutdown(deadline).await;
        self.log_lines.flush().await;
        flushed
    }

    /// Serves `app` with the health routes until SIGTERM or ctrl-c, then drains
    /// in-flight requests for up to `drain` and flushes telemetry and log
    /// lines.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        drain: Duration,
    ) -> Result<(), ServeError> {
        self.serve_with(listener, app, Graceful::default().drain(drain)).await
    }

    /// [`serve`](Self::serve) with the whole shutdown sequence chosen: the
    /// pre-stop delay while readiness is already false, the drain and flush
    /// deadlines, and whether telemetry left unflushed is an error (the
    /// default: a `main` returning it exits with status 1). Readiness follows
    /// this guard's [`Health`], whatever lifecycle `graceful` had.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use throughline::Graceful;
    ///
    /// let guard = throughline::init()?;
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    /// let shutdown = Graceful::default()
    ///     .pre_stop(Duration::from_secs(5)) // the load balancer's probe period
    ///     .drain(Duration::from_secs(10))
    ///     .flush(Duration::from_secs(3))
    ///     .fail_on_unflushed(false); // a stalled collector does not fail the exit
    /// guard.serve_with(listener, axum::Router::new(), shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        graceful: Graceful,
    ) -> Result<(), ServeError> {
        let app = app.merge(self.health.router());
        let served =
            graceful.lifecycle(self.health.lifecycle().clone()).serve(listener, app, self.telemetry).await;
        self.log_lines.flush().await;
        served
    }
}
