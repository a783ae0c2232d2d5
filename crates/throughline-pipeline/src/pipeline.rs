//! Building the pipeline: configuration in, providers and a guard out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogProcessor, SdkLoggerProvider};
#[cfg(any(feature = "grpc", feature = "http"))]
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};

use crate::config::{Config, ConfigError, Exporter, Signal, Vars};
use crate::error::PipelineError;
use crate::export::batch::{Batcher, Counts};
use crate::export::console::{self, ConsoleExporter, Output};
use crate::export::deadline::ShutdownDeadline;
#[cfg(any(feature = "grpc", feature = "http"))]
use crate::export::on_export_runtime::OnExportRuntime;
#[cfg(any(feature = "grpc", feature = "http"))]
use crate::export::otlp;
use crate::export::processors::{BatchLogProcessor, BatchSpanProcessor, LogSink, SpanSink, SpanTransform};
use crate::export::runtime::ExportRuntime;
use crate::prometheus::Prometheus;
use crate::resource::{ResourceOverrides, resource};
use crate::sampler::{HeadDecidedIds, head_sampler, sampler};
use crate::tail_sampling::{Reason, TailSampling, TailSamplingProcessor};
use crate::telemetry::{Counters, Telemetry};

/// The entry point: read the configuration, adjust it in code, build.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use throughline_pipeline::{Pipeline, TailSampling};
///
/// let telemetry = Pipeline::from_env()?           // OTEL_* variables
///     .service_name("orders")                      // code wins over the environment
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .tail_sampling(TailSampling::default())
///     .build()?;
/// // ... install telemetry.tracer_provider() and friends, serve ...
/// telemetry.shutdown(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pipeline;

impl Pipeline {
    /// A builder configured from the process environment.
    pub fn from_env() -> Result<PipelineBuilder, ConfigError> {
        Config::from_env().map(PipelineBuilder::new)
    }

    /// A builder configured from any source of variables.
    pub fn from_vars(vars: &impl Vars) -> Result<PipelineBuilder, ConfigError> {
        Config::from_vars(vars).map(PipelineBuilder::new)
    }

    /// A builder from a configuration.
    pub fn from_config(config: Config) -> PipelineBuilder {
        PipelineBuilder::new(config)
    }
}

/// Settings in code, over the configuration the builder started from.
pub struct PipelineBuilder {
    config: Config,
    overrides: ResourceOverrides,
    tail_sampling: Option<TailSampling>,
    transforms: Vec<SpanTransform>,
    console: Output,
    span_processors: Vec<Box<dyn SpanProcessor>>,
    log_processors: Vec<Box<dyn LogProcessor>>,
}

impl std::fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PipelineBuilder {
    fn new(config: Config) -> Self {
        Self {
            config,
            overrides: ResourceOverrides::default(),
            tail_sampling: None,
            transforms: Vec::new(),
            console: console::stdout(),
            span_processors: Vec::new(),
            log_processors: Vec::new(),
        }
    }

    /// The configuration as read, to inspect or change.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// `service.name`, over `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.overrides.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.overrides.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name` (`production`, `staging`, ...).
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.overrides.environment = Some(environment.into());
        self
    }

    /// Another resource attribute, over any of the environment's.
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.overrides.attributes.push(attribute);
        self
    }

    /// Keeps whole local traces by their outcome; see [`TailSampling`].
    pub fn tail_sampling(mut self, policy: TailSampling) -> Self {
        self.tail_sampling = Some(policy);
        self
    }

    /// Changes every span before it is exported; redaction plugs in here.
    pub fn transform_spans(mut self, transform: impl Fn(&mut SpanData) + Send + Sync + 'static) -> Self {
        self.transforms.push(Arc::new(transform));
        self
    }

    /// The most bytes one export request may carry, for spans and log
    /// records (3 MiB by default); see [`BatchConfig::max_export_bytes`](crate::BatchConfig::max_export_bytes).
    /// Checked at [`build`](Self::build): from 1 KiB to 64 MiB.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use throughline_pipeline::Pipeline;
    ///
    /// // A collector that accepts at most 1 MiB per message.
    /// let builder = Pipeline::from_env()?.max_export_bytes(900 * 1024);
    /// # let _ = builder;
    /// # Ok(()) }
    /// ```
    pub fn max_export_bytes(mut self, bytes: usize) -> Self {
        self.config.span_batch.max_export_bytes = bytes;
        self.config.log_batch.max_export_bytes = bytes;
        self
    }

    /// Another span processor beside the exporters', such as a trace
    /// viewer fed in-process: it sees every sampled span once
    /// [`transform_spans`](Self::transform_spans)' transforms (redaction)
    /// have run, whatever `OTEL_TRACES_EXPORTER` says.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use opentelemetry_sdk::{error::OTelSdkResult, trace::{SpanData, SpanProcessor}};
    /// use throughline_pipeline::Pipeline;
    ///
    /// #[derive(Debug, Default)]
    /// struct Count(AtomicUsize);
    /// impl SpanProcessor for Count {
    ///     fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
    ///     fn on_end(&self, _: SpanData) { self.0.fetch_add(1, Ordering::Relaxed); }
    ///     fn force_flush(&self) -> OTelSdkResult { Ok(()) }
    ///     fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult { Ok(()) }
    /// }
    ///
    /// let builder = Pipeline::from_env()?.span_processor(Count::default());
    /// # let _ = builder;
    /// # Ok(()) }
    /// ```
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.span_processors.push(Box::new(processor));
        self
    }

    /// Another log processor beside the exporters', whatever
    /// `OTEL_LOGS_EXPORTER` says.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use opentelemetry_sdk::{error::OTelSdkResult, logs::{LogProcessor, SdkLogRecord}};
    /// use throughline_pipeline::Pipeline;
    ///
    /// #[derive(Debug)]
    /// struct Discard;
    /// impl LogProcessor for Discard {
    ///     fn emit(&self, _: &mut SdkLogRecord, _: &opentelemetry::InstrumentationScope) {}
    ///     fn force_flush(&self) -> OTelSdkResult { Ok(()) }
    /// }
    ///
    /// let builder = Pipeline::from_env()?.log_processor(Discard);
    /// # let _ = builder;
    /// # Ok(()) }
    /// ```
    pub fn log_processor(mut self, processor: impl LogProcessor + 'static) -> Self {
        self.log_processors.push(Box::new(processor));
        self
    }

    /// Writes console output here instead of standard output.
    pub fn console_output(mut self, out: impl std::io::Write + Send + 'static) -> Self {
        self.console = Arc::new(std::sync::Mutex::new(out));
        self
    }

    /// Builds the providers. Nothing is installed globally: that is the
    /// facade's `init()`, or the caller's choice.
    pub fn build(mut self) -> Result<Telemetry, PipelineError> {
        if self.config.disabled {
            return Ok(Telemetry::disabled());
        }
        self.config.validate()?;
        let runtime = Arc::new(ExportRuntime::start()?);
        let resource = resource(&self.config, &self.overrides);
        let deadline = ShutdownDeadline::default();
        let (meter_provider, prometheus) = self.meter_provider(&resource, &runtime, &deadline)?;
        let self_meter = meter_provider.as_ref().map(|p| p.meter("throughline-pipeline"));

        let mut counters = Counters::default();
        let added_spans = std::mem::take(&mut self.span_processors);
        let added_logs = std::mem::take(&mut self.log_processors);
        let tracer_provider =
            self.tracer_provider(&resource, &runtime, &mut counters, &deadline, added_spans)?;
        let logger_provider =
            self.logger_provider(&resource, &runtime, &mut counters, &deadline, added_logs)?;
        if let Some(meter) = self_meter {
            observe(&meter, &counters);
        }
        let head_sampler = tracer_provider.is_some().then(|| head_sampler(self.config.sampler));
        Ok(Telemetry {
            tracer_provider,
            head_sampler,
            meter_provider,
            logger_provider,
            prometheus,
            counters,
            export_runtime: Some(runtime),
            deadline,
            shut_down: false,
        })
    }

    fn meter_provider(
        &self,
        resource: &Resource,
        runtime: &Arc<ExportRuntime>,
        deadline: &ShutdownDeadline,
    ) -> Result<(Option<SdkMeterProvider>, Option<Prometheus>), PipelineError> {
        // Only OTLP's reader runs on the export runtime.
        #[cfg(not(any(feature = "grpc", feature = "http")))]
        let _ = (runtime, deadline);
        if self.config.metrics_exporters.is_empty() {
            return Ok((None, None));
        }
        let mut builder = SdkMeterProvider::builder().with_resource(resource.clone());
        let mut prometheus = None;
        #[cfg(any(feature = "grpc", feature = "http"))]
        let periodic = |exporter| {
            PeriodicReader::builder(exporter).with_interval(self.config.metric_export_interval).build()
        };
        for exporter in &self.config.metrics_exporters {
            builder = match exporter {
                #[cfg(not(any(feature = "grpc", feature = "http")))]
                Exporter::Otlp => return Err(no_otlp_transport("OTEL_METRICS_EXPORTER").into()),
                #[cfg(any(feature = "grpc", feature = "http"))]
                Exporter::Otlp => {
                    let otlp = otlp::metric_exporter(
                        &self.config.otlp_metrics,
                        Temporality::Cumulative,
                        runtime.handle(),
                    )?;
                    let timeout = self.config.metric_export_timeout;
                    builder.with_reader(periodic(OnExportRuntime::new(
                        otlp,
                        runtime.clone(),
                        timeout,
                        deadline.clone(),
                    )))
                }
                Exporter::Console => builder.with_reader(
                    PeriodicReader::builder(ConsoleExporter::new(self.console.clone()))
                        .with_interval(self.config.metric_export_interval)
                        .build(),
                ),
                Exporter::Prometheus => {
                    let (handle, reader) = Prometheus::new()?;
                    prometheus = Some(handle);
                    builder.with_reader(reader)
                }
            };
        }
        Ok((Some(builder.build()), prometheus))
    }

    fn tracer_provider(
        &self,
        resource: &Resource,
        runtime: &ExportRuntime,
        counters: &mut Counters,
        deadline: &ShutdownDeadline,
        added: Vec<Box<dyn SpanProcessor>>,
    ) -> Result<Option<SdkTracerProvider>, PipelineError> {
        if self.config.traces_exporters.is_empty() && added.is_empty() {
            return Ok(None);
        }
        let limits = self.config.span_limits;
        let mut builder = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(sampler(self.config.sampler))
            .with_id_generator(HeadDecidedIds::default())
            .with_span_limits(opentelemetry_sdk::trace::SpanLimits {
                max_attributes_per_span: limits.attributes_per_span,
                max_events_per_span: limits.events_per_span,
                max_links_per_span: limits.links_per_span,
                max_attributes_per_event: limits.attributes_per_event,
                max_attributes_per_link: limits.attributes_per_link,
            });
        for exporter in &self.config.traces_exporters {
            let batcher = match exporter {
                #[cfg(not(any(feature = "grpc", feature = "http")))]
                Exporter::Otlp => return Err(no_otlp_transport("OTEL_TRACES_EXPORTER").into()),
                #[cfg(any(feature = "grpc", feature = "http"))]
                Exporter::Otlp => {
                    let (mut otlp, last_error) =
                        otlp::span_exporter(&self.config.otlp_traces, runtime.handle())?;
                    opentelemetry_sdk::trace::SpanExporter::set_resource(&mut otlp, resource);
                    Batcher::start(
                        SpanSink(otlp, last_error),
                        self.config.span_batch,
                        runtime.handle(),
                        Signal::Traces,
                        self.config.otlp_traces.endpoint.clone(),
                        deadline.clone(),
                    )
                }
                _ => Batcher::start(
                    SpanSink(ConsoleExporter::new(self.console.clone()), None),
                    self.config.span_batch,
                    runtime.handle(),
                    Signal::Traces,
                    "standard output".into(),
                    deadline.clone(),
                ),
            };
            let processor = BatchSpanProcessor::new(
                batcher,
                self.transforms.clone(),
                self.config.span_batch.export_timeout,
            );
            counters.spans.push(processor.counts());
            builder = match &self.tail_sampling {
                Some(policy) => {
                    let tail = TailSamplingProcessor::new(policy.clone(), processor);
                    counters.tail.push(tail.counts());
                    builder.with_span_processor(tail)
                }
                None => builder.with_span_processor(processor),
            };
        }
        for processor in added {
            builder = builder
                .with_span_processor(AddedSpans { inner: processor, transforms: self.transforms.clone() });
        }
        Ok(Some(builder.build()))
    }

    fn logger_provider(
        &self,
        resource: &Resource,
        runtime: &ExportRuntime,
        counters: &mut Counters,
        deadline: &ShutdownDeadline,
        added: Vec<Box<dyn LogProcessor>>,
    ) -> Result<Option<SdkLoggerProvider>, PipelineError> {
        if self.config.logs_exporters.is_empty() && added.is_empty() {
            return Ok(None);
        }
        let mut builder = SdkLoggerProvider::builder().with_resource(resource.clone());
        for processor in added {
            builder = builder.with_log_processor(AddedLogs(processor));
        }
        for exporter in &self.config.logs_exporters {
            let batcher = match exporter {
                #[cfg(not(any(feature = "grpc", feature = "http")))]
                Exporter::Otlp => return Err(no_otlp_transport("OTEL_LOGS_EXPORTER").into()),
                #[cfg(any(feature = "grpc", feature = "http"))]
                Exporter::Otlp => {
                    let (mut otlp, last_error) =
                        otlp::log_exporter(&self.config.otlp_logs, runtime.handle())?;
                    opentelemetry_sdk::logs::LogExporter::set_resource(&mut otlp, resource);
                    Batcher::start(
                        LogSink(otlp, last_error),
                        self.config.log_batch,
                        runtime.handle(),
                        Signal::Logs,
                        self.config.otlp_logs.endpoint.clone(),
                        deadline.clone(),
                    )
                }
                _ => Batcher::start(
                    LogSink(ConsoleExporter::new(self.console.clone()), None),
                    self.config.log_batch,
                    runtime.handle(),
                    Signal::Logs,
                    "standard output".into(),
                    deadline.clone(),
                ),
            };
            let processor = BatchLogProcessor::new(batcher, self.config.log_batch.export_timeout);
            counters.logs.push(processor.counts());
            builder = builder.with_log_processor(processor);
        }
        Ok(Some(builder.build()))
    }
}

/// The pipeline's own metrics, in the OpenTelemetry SDK self-observability
/// conventions where they exist: what the processors exported, dropped on a
/// full queue, and failed to export, and tail sampling's decisions.
fn observe(meter: &Meter, counters: &Counters) {
    for (signal, counts) in [("span", &counters.spans), ("log", &counters.logs)] {
        if counts.is_empty() {
            continue;
        }
        let component = KeyValue::new("otel.component.type", format!("batching_{signal}_processor"));
        let (read, attributes) = (counts.clone(), component.clone());
        meter
            .u64_observable_counter(format!("otel.sdk.exporter.{signal}.exported"))
            .with_unit(format!("{{{signal}}}"))
            .with_description("Items handed to the exporter, by outcome")
            .with_callback(move |observer| {
                observer.observe(total(&read, |c| &c.exported), std::slice::from_ref(&attributes));
                // One point per reason, summed over the exporters of the signal.
                let mut reasons: Vec<(String, u64)> = Vec::new();
                for (reason, items) in read.iter().flat_map(|counts| counts.reasons.get()) {
                    match reasons.iter_mut().find(|(known, _)| *known == reason) {
                        Some((_, total)) => *total += items,
                        None => reasons.push((reason, items)),
                    }
                }
                for (reason, items) in reasons {
                    observer.observe(items, &[attributes.clone(), KeyValue::new("error.type", reason)]);
                }
            })
            .build();
        let read = counts.clone();
        let full = [component.clone(), KeyValue::new("error.type", "queue_full")];
        let died = [component, KeyValue::new("error.type", "export_task_died")];
        meter
            .u64_observable_counter(format!("otel.sdk.processor.{signal}.dropped"))
            .with_unit(format!("{{{signal}}}"))
            .with_description("Items dropped because the export queue was full or its export task had died")
            .with_callback(move |observer| {
                observer.observe(total(&read, |c| &c.dropped), &full);
                observer.observe(total(&read, |c| &c.lost), &died);
            })
            .build();
    }
    if counters.tail.is_empty() {
        return;
    }
    let tail = counters.tail.clone();
    meter
        .u64_observable_counter("throughline.tail_sampling.traces")
        .with_unit("{trace}")
        .with_description("Local traces decided by tail sampling, by decision and reason")
        .with_callback(move |observer| {
            for reason in [Reason::Error, Reason::Slow, Reason::Ratio, Reason::Healthy] {
                let count: u64 = tail.iter().map(|t| t.get(reason)).sum();
                let decision = if reason.keeps() { "kept" } else { "dropped" };
                observer.observe(
                    count,
                    &[KeyValue::new("decision", decision), KeyValue::new("reason", reason.as_str())],
                );
            }
        })
        .build();
    let tail = counters.tail.clone();
    meter
        .u64_observable_counter("throughline.tail_sampling.spans_dropped")
        .with_unit("{span}")
        .with_description("Spans dropped because their trace held the most spans allowed")
        .with_callback(move |observer| {
            observer.observe(tail.iter().map(|t| t.spans_dropped.load(Ordering::Relaxed)).sum(), &[]);
        })
        .build();
}

fn total(counts: &[Arc<Counts>], pick: fn(&Counts) -> &AtomicU64) -> u64 {
    counts.iter().map(|c| pick(c).load(Ordering::Relaxed)).sum()
}

/// `otlp` asked for in a build with neither transport.
#[cfg(not(any(feature = "grpc", feature = "http")))]
fn no_otlp_transport(variable: &str) -> crate::ConfigError {
    crate::ConfigError::new(
        variable,
        "otlp",
        "this build has no OTLP transport: turn on throughline-pipeline's `grpc` or `http` feature",
    )
}

/// A span processor added with [`PipelineBuilder::span_processor`]: it
/// sees spans after the same transforms (redaction) as the exporters.
struct AddedSpans {
    inner: Box<dyn SpanProcessor>,
    transforms: Vec<SpanTransform>,
}

impl std::fmt::Debug for AddedSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddedSpans")
            .field("inner", &self.inner)
            .field("transforms", &self.transforms.len())
            .finish()
    }
}

impl SpanProcessor for AddedSpans {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        for transform in &self.transforms {
            transform(&mut span);
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log processor added with [`PipelineBuilder::log_processor`].
#[derive(Debug)]
struct AddedLogs(Box<dyn LogProcessor>);

impl LogProcessor for AddedLogs {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        scope: &opentelemetry::InstrumentationScope,
    ) {
        self.0.emit(record, scope);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
