//! Metrics derived from spans: a counter and a duration histogram for every
//! span that names a metric.

mod cardinality;
mod clock;
mod fnv;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::{Key, KeyValue};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use self::cardinality::LabelSets;
pub use self::clock::{Clock, MonotonicClock};
use self::fnv::FnvBuild;

/// The field that names a span's metric.
pub const METRIC_NAME: &str = "metric_name";
/// The prefix of the fields that label it: `metric_label_route` is `route`.
pub const METRIC_LABEL_PREFIX: &str = "metric_label_";

/// Records a `{name}_total` counter and a `{name}_duration_seconds`
/// histogram for every span that carries a `metric_name` field, through the
/// `opentelemetry` metrics API.
///
/// The series are labelled with the span's `metric_label_*` fields (without
/// the prefix) and `result`: `error` when the span recorded an `error` field
/// (any value but `false`) or an error-level event was emitted inside it
/// (and not inside a nearer span with a metric of its own), `ok` otherwise.
/// The duration runs from the span's creation to its close. Spans are
/// counted whether or not their trace is sampled.
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use throughline_subscriber::SpanMetricsLayer;
/// use tracing_subscriber::prelude::*;
///
/// let provider = SdkMeterProvider::builder().build();
/// let layer = SpanMetricsLayer::new(&provider);
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     let span = tracing::info_span!("checkout", metric_name = "checkout", metric_label_route = "/orders");
///     span.in_scope(|| { /* ... */ });
/// }); // checkout_total{route="/orders",result="ok"} 1, and checkout_duration_seconds
/// ```
///
/// # Cardinality
///
/// Each metric keeps at most [`max_label_sets`](Self::max_label_sets)
/// distinct sets of `metric_label_*` values (1,000 by default). A span with a
/// new set past that bound is still counted and timed, in one overflow series
/// labelled `otel.metric.overflow=true` and its `result`, as the OpenTelemetry
/// SDK does past its own limit: totals stay right, and memory stays bounded.
/// Likewise at most [`max_metrics`](Self::max_metrics) distinct metric names
/// are created (256 by default); spans naming another are not recorded.
pub struct SpanMetricsLayer<C = MonotonicClock> {
    meter: Meter,
    clock: C,
    buckets: Vec<f64>,
    max_label_sets: usize,
    max_metrics: usize,
    metrics: RwLock<HashMap<Box<str>, Arc<Instruments>, FnvBuild>>,
}

/// The instruments of one metric name.
struct Instruments {
    total: Counter<u64>,
    duration: Histogram<f64>,
    label_sets: LabelSets,
}

/// What the layer keeps on a span that names a metric.
struct Timed {
    fields: MetricFields,
    started: Instant,
}

/// The fields of a span this layer reads.
#[derive(Default)]
struct MetricFields {
    /// `None` until `metric_name` is recorded; `Some(None)` past the bound.
    metric: Option<Option<Arc<Instruments>>>,
    labels: Vec<KeyValue>,
    error: Option<bool>,
}

impl MetricFields {
    /// Takes what `newer` recorded over what this holds.
    fn update(&mut self, newer: MetricFields) {
        if newer.metric.is_some() {
            self.metric = newer.metric;
        }
        if newer.error.is_some() {
            self.error = newer.error;
        }
        for label in newer.labels {
            match self.labels.iter_mut().find(|known| known.key == label.key) {
                Some(known) => known.value = label.value,
                None => self.labels.push(label),
            }
        }
    }
}

impl SpanMetricsLayer {
    /// The default bound on label sets per metric.
    pub const DEFAULT_MAX_LABEL_SETS: usize = 1_000;
    /// The default bound on metric names.
    pub const DEFAULT_MAX_METRICS: usize = 256;
    /// The default histogram buckets, in seconds: the OpenTelemetry semantic
    /// conventions' buckets for request durations.
    pub const DEFAULT_BUCKETS: &[f64] =
        &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

    /// Records through `provider`.
    pub fn new(provider: &impl MeterProvider) -> Self {
        Self {
            meter: crate::meter_of(provider),
            clock: MonotonicClock,
            buckets: Self::DEFAULT_BUCKETS.to_vec(),
            max_label_sets: Self::DEFAULT_MAX_LABEL_SETS,
            max_metrics: Self::DEFAULT_MAX_METRICS,
            metrics: RwLock::default(),
        }
    }
}

impl<C: Clock> SpanMetricsLayer<C> {
    /// Measures durations with `clock` (a test's manual clock, for example).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> SpanMetricsLayer<C2> {
        SpanMetricsLayer {
            meter: self.meter,
            clock,
            buckets: self.buckets,
            max_label_sets: self.max_label_sets,
            max_metrics: self.max_metrics,
            metrics: self.metrics,
        }
    }

    /// Histogram bucket boundaries, in seconds.
    pub fn with_buckets(mut self, boundaries: Vec<f64>) -> Self {
        self.buckets = boundaries;
        self
    }

    /// At most `bound` distinct label sets per metric; see [Cardinality](Self#cardinality).
    pub fn max_label_sets(mut self, bound: usize) -> Self {
        self.max_label_sets = bound;
        self
    }

    /// At most `bound` distinct metric names.
    pub fn max_metrics(mut self, bound: usize) -> Self {
        self.max_metrics = bound;
        self
    }

    /// The instruments of `name`, created on first use within the bound.
    fn instruments(&self, name: &str) -> Option<Arc<Instruments>> {
        if let Some(found) = self.metrics.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Some(Arc::clone(found));
        }
        let mut metrics = self.metrics.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = metrics.get(name) {
            return Some(Arc::clone(found));
        }
        if metrics.len() >= self.max_metrics {
            return None;
        }
        let instruments = Arc::new(Instruments {
            total: self
                .meter
                .u64_counter(format!("{name}_total"))
                .with_unit("{span}")
                .with_description(format!("Spans that named the metric {name}, by result"))
                .build(),
            duration: self
                .meter
                .f64_histogram(format!("{name}_duration_seconds"))
                .with_unit("s")
                .with_description(format!("Durations of the spans that named the metric {name}, by result"))
                .with_boundaries(self.buckets.clone())
                .build(),
            label_sets: LabelSets::new(self.max_label_sets),
        });
        metrics.insert(name.into(), Arc::clone(&instruments));
        Some(instruments)
    }
}

impl<C> fmt::Debug for SpanMetricsLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanMetricsLayer")
            .field("max_label_sets", &self.max_label_sets)
            .field("max_metrics", &self.max_metrics)
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for SpanMetricsLayer<C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    C: Clock,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().fields().field(METRIC_NAME).is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let started = self.clock.now();
        let mut fields = MetricFields::default();
        attrs.record(&mut Reader { layer: self, fields: &mut fields });
        span.extensions_mut().insert(Timed { fields, started });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<Timed>().is_none() {
            return;
        }
        // Read without holding the extensions: a `Debug` impl or the meter
        // may emit events that look at this span.
        let mut recorded = MetricFields::default();
        values.record(&mut Reader { layer: self, fields: &mut recorded });
        if let Some(timed) = span.extensions_mut().get_mut::<Timed>() {
            timed.fields.update(recorded);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        // The nearest span with a metric failed.
        for span in ctx.event_scope(event).into_iter().flatten() {
            if let Some(timed) = span.extensions_mut().get_mut::<Timed>() {
                timed.fields.error = Some(true);
                return;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(Timed { fields, started }) = span.extensions_mut().remove::<Timed>() else { return };
        let Some(Some(metric)) = fields.metric else { return };
        let seconds = self.clock.now().saturating_duration_since(started).as_secs_f64();
        let result = KeyValue::new("result", if fields.error == Some(true) { "error" } else { "ok" });
        let mut labels = fields.labels;
        if metric.label_sets.admit(&labels) {
            labels.push(result);
        } else {
            labels = vec![KeyValue::new("otel.metric.overflow", true), result];
        }
        metric.total.add(1, &labels);
        metric.duration.record(seconds, &labels);
    }
}

/// Reads `metric_name`, `metric_label_*` and `error`.
struct Reader<'a, C> {
    layer: &'a SpanMetricsLayer<C>,
    fields: &'a mut MetricFields,
}

impl<C: Clock> Reader<'_, C> {
    fn label(&mut self, field: &Field, value: impl FnOnce() -> opentelemetry::Value) {
        if let Some(name) = field.name().strip_prefix(METRIC_LABEL_PREFIX) {
            self.fields.labels.push(KeyValue::new(Key::from_static_str(name), value()));
        } else if field.name() == "error" {
            self.fields.error = Some(true);
        }
    }

    fn text(&mut self, field: &Field, text: &str) {
        if field.name() == METRIC_NAME {
            self.fields.metric = Some(self.layer.instruments(text));
        } else {
            self.label(field, || text.to_owned().into());
        }
    }
}

impl<C: Clock> Visit for Reader<'_, C> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "error" {
            self.fields.error = Some(value);
        } else {
            self.label(field, || value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.label(field, || value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.label(field, || i64::try_from(value).map_or_else(|_| value.to_string().into(), Into::into));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.label(field, || value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name == METRIC_NAME || name == "error" || name.starts_with(METRIC_LABEL_PREFIX) {
            self.text(field, &format!("{value:?}"));
        }
    }
}
