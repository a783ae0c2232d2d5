//! In-memory capture of spans, metrics and logs, with assertion helpers.

use std::fmt;
use std::ops::Deref;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracer, SdkTracerProvider, SpanData};
use tracing::subscriber::DefaultGuard;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::WaitTimeout;

/// Providers wired to in-memory exporters: what a test instruments with, and
/// what it then asserts on.
///
/// Spans are exported synchronously as they end, so they are visible at once;
/// metrics are collected when [`metrics`](Self::metrics) is called.
///
/// ```
/// use throughline_testing::Capture;
///
/// let capture = Capture::new();
/// tracing::subscriber::with_default(capture.subscriber(), || {
///     let parent = tracing::info_span!("parent");
///     parent.in_scope(|| tracing::info_span!("child", user.id = 7).in_scope(|| {}));
/// });
/// let spans = capture.spans();
/// spans.named("child").assert_attribute("user.id", 7).assert_child_of(&spans.named("parent"));
/// ```
pub struct Capture {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    logs: InMemoryLogExporter,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    logger_provider: SdkLoggerProvider,
}

/// Says how much was captured, not what: the data is read through the accessors.
impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").field("spans", &self.spans().len()).finish_non_exhaustive()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

impl Capture {
    /// A capture that samples every span.
    pub fn new() -> Self {
        Self::with_sampler(Sampler::AlwaysOn)
    }

    /// A capture with this sampler, to test what happens to sampled-out work.
    pub fn with_sampler(sampler: Sampler) -> Self {
        let resource = Resource::builder_empty().with_service_name("throughline-test").build();
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let logs = InMemoryLogExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .with_sampler(sampler)
            .with_resource(resource.clone())
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .with_resource(resource.clone())
            .build();
        let logger_provider =
            SdkLoggerProvider::builder().with_simple_exporter(logs.clone()).with_resource(resource).build();
        Self { spans, metrics, logs, tracer_provider, meter_provider, logger_provider }
    }

    /// The tracer provider spans are captured from.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider metrics are captured from.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The logger provider log records are captured from.
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.logger_provider
    }

    /// A tracing layer that turns `tracing` spans into captured spans.
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer_provider.tracer("throughline-test"))
    }

    /// A tracing layer that turns `tracing` events into captured log records.
    pub fn log_layer(&self) -> OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger> {
        OpenTelemetryTracingBridge::new(&self.logger_provider)
    }

    /// A subscriber capturing spans and events, for `tracing::subscriber::with_default`
    /// or `set_default`.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::registry().with(self.layer()).with(self.log_layer())
    }

    /// Makes [`subscriber`](Self::subscriber) this thread's default until the
    /// guard is dropped. On tokio's current-thread runtime (what
    /// `#[tokio::test]` gives) that covers every task the test spawns, a
    /// server's included.
    ///
    /// ```
    /// use throughline_testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let _default = capture.set_default();
    /// tracing::info_span!("work").in_scope(|| {});
    /// assert_eq!(capture.spans().len(), 1);
    /// ```
    #[must_use = "the capture stops when the guard is dropped"]
    pub fn set_default(&self) -> DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// The spans that have ended.
    pub fn spans(&self) -> Spans {
        Spans(self.spans.get_finished_spans().unwrap_or_default())
    }

    /// Waits until at least `count` spans have ended, or `within` passed, and
    /// returns the spans that have: for work that ends on another task (a
    /// server's, after the client has its answer). Yields to the runtime
    /// between looks, and measures `within` on the system clock, so a test
    /// on tokio's paused clock is bounded too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use throughline_testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let _default = capture.set_default();
    /// tokio::spawn(async { tracing::info_span!("elsewhere").in_scope(|| {}) });
    /// let spans = capture.wait_for_spans(1, Duration::from_secs(10)).await.unwrap();
    /// spans.named("elsewhere");
    /// # }
    /// ```
    pub async fn wait_for_spans(&self, count: usize, within: Duration) -> Result<Spans, WaitTimeout> {
        let deadline = Instant::now() + within;
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return Ok(spans);
            }
            if Instant::now() >= deadline {
                return Err(WaitTimeout { wanted: count, received: spans.len() });
            }
            tokio::task::yield_now().await;
        }
    }

    /// The metrics recorded so far (collected now).
    pub fn metrics(&self) -> Metrics {
        let _ = self.meter_provider.force_flush();
        Metrics(self.metrics.get_finished_metrics().unwrap_or_default())
    }

    /// The log records emitted so far: severity text and body.
    pub fn logs(&self) -> Vec<CapturedLog> {
        self.logs
            .get_emitted_logs()
            .unwrap_or_default()
            .into_iter()
            .map(|log| CapturedLog {
                severity: log.record.severity_text().unwrap_or_default().to_owned(),
                body: log.record.body().map(|b| format!("{b:?}")).unwrap_or_default(),
                trace_id: log.record.trace_context().map(|cx| cx.trace_id.to_string()),
            })
            .collect()
    }

    /// Forgets everything captured so far.
    pub fn reset(&self) {
        self.spans.reset();
        self.metrics.reset();
        self.logs.reset();
    }
}

/// A captured log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedLog {
    /// The severity text (`INFO`, ...).
    pub severity: String,
    /// The body, as debug text.
    pub body: String,
    /// The trace the record was emitted in, as lowercase hex.
    pub trace_id: Option<String>,
}

/// Captured spans, with lookups that fail with a useful message.
#[derive(Clone, Debug)]
pub struct Spans(Vec<SpanData>);

impl Spans {
    /// Every span, in the order they ended.
    pub fn all(&self) -> &[SpanData] {
        &self.0
    }

    /// How many spans ended.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no span ended.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The span named `name`, if one ended.
    pub fn find(&self, name: &str) -> Option<SpanRef<'_>> {
        self.0.iter().find(|s| s.name == name).map(SpanRef)
    }

    /// The span named `name`.
    ///
    /// # Panics
    ///
    /// When no such span ended; the message lists the spans that did.
    #[track_caller]
    pub fn named(&self, name: &str) -> SpanRef<'_> {
        self.find(name).unwrap_or_else(|| {
            let names: Vec<&str> = self.0.iter().map(|s| s.name.as_ref()).collect();
            panic!("no span named {name:?}; captured: {names:?}")
        })
    }

    /// The spans of `kind`, in the order they ended.
    pub fn of_kind(&self, kind: SpanKind) -> Vec<SpanRef<'_>> {
        self.0.iter().filter(|s| s.span_kind == kind).map(SpanRef).collect()
    }

    /// The one span of `kind`: the server span of a request, say, whatever
    /// its name.
    ///
    /// # Panics
    ///
    /// Unless exactly one span of `kind` ended; the message lists them.
    ///
    /// ```
    /// use opentelemetry::trace::SpanKind;
    /// use throughline_testing::Capture;
    ///
    /// let capture = Capture::new();
    /// tracing::subscriber::with_default(capture.subscriber(), || {
    ///     let server = tracing::info_span!("GET /users/{id}", otel.kind = "server");
    ///     server.in_scope(|| tracing::info_span!("load_user").in_scope(|| {}));
    /// });
    /// let spans = capture.spans();
    /// let server = spans.one_of_kind(SpanKind::Server);
    /// assert_eq!(server.name, "GET /users/{id}"); // a `SpanRef` reads as the `SpanData`
    /// spans.named("load_user").assert_child_of(&server);
    /// ```
    #[track_caller]
    pub fn one_of_kind(&self, kind: SpanKind) -> SpanRef<'_> {
        let mut found = self.of_kind(kind.clone());
        if found.len() != 1 {
            let names: Vec<&str> = found.iter().map(|s| s.0.name.as_ref()).collect();
            panic!("one {kind:?} span expected; captured: {names:?}");
        }
        found.remove(0)
    }
}

/// One captured span, with chainable assertions.
#[derive(Clone, Copy)]
pub struct SpanRef<'a>(&'a SpanData);

impl fmt::Debug for SpanRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// A `SpanRef` reads as the span's data: `span.name`, `span.parent_span_id`.
impl Deref for SpanRef<'_> {
    type Target = SpanData;

    fn deref(&self) -> &SpanData {
        self.0
    }
}

impl<'a> SpanRef<'a> {
    /// The span's data.
    pub fn data(&self) -> &'a SpanData {
        self.0
    }

    /// An attribute's value.
    pub fn attribute(&self, key: &str) -> Option<&'a Value> {
        self.0.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    /// Asserts an attribute's value.
    #[track_caller]
    pub fn assert_attribute(&self, key: &str, expected: impl Into<Value>) -> &Self {
        let expected = expected.into();
        assert_eq!(self.attribute(key), Some(&expected), "attribute {key:?} of span {:?}", self.0.name);
        self
    }

    /// Asserts a string-array attribute, as captured headers and metadata are
    /// recorded (a header may repeat).
    ///
    /// ```
    /// use opentelemetry::{Array, KeyValue, StringValue, Value};
    /// use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    /// use throughline_testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let mut span = capture.tracer_provider().tracer("doc").start("request");
    /// let ids = vec![StringValue::from("a"), StringValue::from("b")];
    /// span.set_attribute(KeyValue::new("http.request.header.x-id", Value::Array(Array::from(ids))));
    /// span.end();
    /// capture.spans().named("request").assert_strings("http.request.header.x-id", &["a", "b"]);
    /// ```
    #[track_caller]
    pub fn assert_strings(&self, key: &str, expected: &[&str]) -> &Self {
        let strings: Vec<StringValue> = expected.iter().map(|s| StringValue::from(s.to_string())).collect();
        self.assert_attribute(key, Value::Array(Array::String(strings)))
    }

    /// Asserts that an attribute is absent.
    #[track_caller]
    pub fn assert_no_attribute(&self, key: &str) -> &Self {
        assert_eq!(self.attribute(key), None, "attribute {key:?} of span {:?}", self.0.name);
        self
    }

    /// Asserts that `parent` is this span's parent.
    #[track_caller]
    pub fn assert_child_of(&self, parent: &SpanRef<'_>) -> &Self {
        assert_eq!(
            self.0.span_context.trace_id(),
            parent.0.span_context.trace_id(),
            "trace of {:?}",
            self.0.name
        );
        assert_eq!(self.0.parent_span_id, parent.0.span_context.span_id(), "parent of {:?}", self.0.name);
        self
    }

    /// Asserts the span kind.
    #[track_caller]
    pub fn assert_kind(&self, kind: SpanKind) -> &Self {
        assert_eq!(self.0.span_kind, kind, "kind of span {:?}", self.0.name);
        self
    }

    /// Asserts that the status is `Error`.
    #[track_caller]
    pub fn assert_error(&self) -> &Self {
        assert!(
            matches!(self.0.status, Status::Error { .. }),
            "status of {:?}: {:?}",
            self.0.name,
            self.0.status
        );
        self
    }

    /// Asserts that the status is not `Error`.
    #[track_caller]
    pub fn assert_not_error(&self) -> &Self {
        assert!(
            !matches!(self.0.status, Status::Error { .. }),
            "status of {:?}: {:?}",
            self.0.name,
            self.0.status
        );
        self
    }

    /// Asserts that the span recorded an event named `name`.
    #[track_caller]
    pub fn assert_event(&self, name: &str) -> &Self {
        let names: Vec<&str> = self.0.events.iter().map(|e| e.name.as_ref()).collect();
        assert!(names.contains(&name), "events of {:?}: {names:?}", self.0.name);
        self
    }

    /// Asserts that the span recorded an event named `name` with this
    /// attribute: an `exception` event's `exception.message`, say.
    #[track_caller]
    pub fn assert_event_attribute(&self, name: &str, key: &str, expected: impl Into<Value>) -> &Self {
        self.assert_event(name);
        let expected = expected.into();
        let values: Vec<Option<&Value>> = self
            .0
            .events
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value))
            .collect();
        assert!(
            values.contains(&Some(&expected)),
            "attribute {key:?} of the {name:?} events of span {:?}: {values:?}",
            self.0.name
        );
        self
    }
}

/// Captured metrics: every collection since the last reset.
#[derive(Debug)]
pub struct Metrics(Vec<ResourceMetrics>);

/// One data point of a metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The point's attributes.
    pub attributes: Vec<KeyValue>,
    /// Its value.
    pub value: PointValue,
}

/// A data point's value.
#[derive(Clone, Debug, PartialEq)]
pub enum PointValue {
    /// A counter's sum or a gauge's value.
    Number(f64),
    /// A histogram.
    Histogram {
        /// Recorded values.
        count: u64,
        /// Their sum.
        sum: f64,
        /// The explicit bucket boundaries.
        bounds: Vec<f64>,
        /// The count in each bucket.
        buckets: Vec<u64>,
    },
}

impl Metrics {
    /// The names of every metric collected.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .iter()
            .flat_map(|rm| rm.scope_metrics())
            .flat_map(|sm| sm.metrics())
            .map(|m| m.name().to_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The data of the latest collection of the metric named `name`, for what
    /// [`points`](Self::points) does not say: the instrument's kind, its
    /// number type, the temporality.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    /// use throughline_testing::Capture;
    ///
    /// let capture = Capture::new();
    /// capture.meter_provider().meter("doc").i64_up_down_counter("active").build().add(1, &[]);
    /// let metrics = capture.metrics();
    /// assert!(matches!(metrics.data("active"), Some(AggregatedMetrics::I64(MetricData::Sum(_)))));
    /// ```
    pub fn data(&self, name: &str) -> Option<&AggregatedMetrics> {
        self.latest(name).map(|m| m.data())
    }

    /// The unit of the metric named `name`.
    pub fn unit(&self, name: &str) -> Option<String> {
        self.latest(name).map(|m| m.unit().to_owned())
    }

    /// The data points of the latest collection of the metric named `name`.
    pub fn points(&self, name: &str) -> Vec<Point> {
        self.latest(name).map(|m| points(m.data())).unwrap_or_default()
    }

    /// The sum of the points whose attributes include `attributes`, for a
    /// counter, an up-down counter or a gauge.
    pub fn total(&self, name: &str, attributes: &[KeyValue]) -> f64 {
        self.matching(name, attributes)
            .map(|p| match p.value {
                PointValue::Number(n) => n,
                PointValue::Histogram { .. } => 0.0,
            })
            .sum()
    }

    /// How many values a histogram recorded in the points whose attributes
    /// include `attributes`.
    pub fn histogram_count(&self, name: &str, attributes: &[KeyValue]) -> u64 {
        self.matching(name, attributes)
            .map(|p| match p.value {
                PointValue::Histogram { count, .. } => count,
                PointValue::Number(_) => 0,
            })
            .sum()
    }

    fn matching(&self, name: &str, attributes: &[KeyValue]) -> impl Iterator<Item = Point> {
        let wanted = attributes.to_vec();
        self.points(name).into_iter().filter(move |p| wanted.iter().all(|kv| p.attributes.contains(kv)))
    }

    fn latest(&self, name: &str) -> Option<&opentelemetry_sdk::metrics::data::Metric> {
        self.0
            .iter()
            .rev()
            .flat_map(|rm| rm.scope_metrics())
            .flat_map(|sm| sm.metrics())
            .find(|m| m.name() == name)
    }
}

fn points(data: &AggregatedMetrics) -> Vec<Point> {
    match data {
        AggregatedMetrics::F64(data) => points_of(data, |v| v),
        AggregatedMetrics::U64(data) => points_of(data, |v| v as f64),
        AggregatedMetrics::I64(data) => points_of(data, |v| v as f64),
    }
}

fn points_of<T: Copy>(data: &MetricData<T>, to_f64: impl Fn(T) -> f64) -> Vec<Point> {
    let attributes = |attrs: &mut dyn Iterator<Item = &KeyValue>| attrs.cloned().collect::<Vec<_>>();
    match data {
        MetricData::Sum(sum) => sum
            .data_points()
            .map(|p| Point {
                attributes: attributes(&mut p.attributes()),
                value: PointValue::Number(to_f64(p.value())),
            })
            .collect(),
        MetricData::Gauge(gauge) => gauge
            .data_points()
            .map(|p| Point {
                attributes: attributes(&mut p.attributes()),
                value: PointValue::Number(to_f64(p.value())),
            })
            .collect(),
        MetricData::Histogram(histogram) => histogram
            .data_points()
            .map(|p| Point {
                attributes: attributes(&mut p.attributes()),
                value: PointValue::Histogram {
                    count: p.count(),
                    sum: to_f64(p.sum()),
                    bounds: p.bounds().collect(),
                    buckets: p.bucket_counts().collect(),
                },
            })
            .collect(),
        MetricData::ExponentialHistogram(_) => Vec::new(),
    }
}
