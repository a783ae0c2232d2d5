//! The metrics schema through the OpenTelemetry SDK's in-memory exporter
//! (the attempt spans are in `attempt_spans.rs`).

mod support;

use support::status_server;

use std::time::Duration;

use http::Request;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use throughline_resilience::circuit_breaker::{BreakerConfig, SlidingWindow};
use throughline_resilience::limit::{LimitAlgorithm, LimiterConfig, Priority};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{Backoff, HttpClassifier, Policy};
use tower::{Layer, Service, ServiceExt};

struct Metrics {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

impl Metrics {
    fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Self { provider, exporter }
    }

    /// Every data point of `name` as (attributes, value), attributes sorted.
    fn points(&self, name: &str) -> Vec<(Vec<(String, String)>, u64)> {
        self.provider.force_flush().unwrap();
        let mut points = Vec::new();
        let finished = self.exporter.get_finished_metrics().unwrap();
        let Some(last) = finished.last() else { return points };
        for metric in last.scope_metrics().flat_map(|s| s.metrics()).filter(|m| m.name() == name) {
            let attributes = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                let mut kvs: Vec<_> = kvs.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
                kvs.sort();
                kvs
            };
            match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    points.extend(sum.data_points().map(|p| (attributes(&mut p.attributes()), p.value())))
                }
                AggregatedMetrics::U64(MetricData::Gauge(gauge)) => {
                    points.extend(gauge.data_points().map(|p| (attributes(&mut p.attributes()), p.value())))
                }
                other => panic!("unexpected data for {name}: {other:?}"),
            }
        }
        points.sort();
        points
    }

    fn value(&self, name: &str, attributes: &[(&str, &str)]) -> Option<u64> {
        let mut wanted: Vec<_> = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        wanted.sort();
        self.points(name).into_iter().find(|(a, _)| *a == wanted).map(|(_, v)| v)
    }
}

#[tokio::test(start_paused = true)]
async fn calls_retries_and_breaker_transitions_follow_the_schema() {
    let metrics = Metrics::new();
    let breaker = BreakerConfig::new("payments")
        .window(SlidingWindow::Count(4))
        .min_calls(4)
        .meter_provider(&metrics.provider)
        .build()
        .unwrap();
    let policy = Policy::builder("payments")
        .retry(
            RetryConfig::new("payments")
                .max_attempts(2)
                .backoff(Backoff::constant(Duration::from_millis(1)))
                .meter_provider(&metrics.provider),
        )
        .circuit_breaker(breaker)
        .classifier(HttpClassifier::default())
        .meter_provider(&metrics.provider)
        .build()
        .unwrap();
    let mut client = policy.layer().layer(status_server(vec![503, 200, 500, 500, 500, 500]));
    for _ in 0..4 {
        let _ = client.ready().await.unwrap().call(Request::get("/").body(String::new()).unwrap()).await;
    }
    let name = ("resilience.name", "payments");
    assert_eq!(metrics.value("resilience.calls", &[name, ("resilience.outcome", "success")]), Some(1));
    // Call 2 fails twice, which fills the window with 3 failures of 4: the breaker opens.
    assert_eq!(metrics.value("resilience.calls", &[name, ("resilience.outcome", "failure")]), Some(1));
    assert_eq!(metrics.value("resilience.calls", &[name, ("resilience.outcome", "rejected")]), Some(2));
    assert_eq!(
        metrics.value("resilience.retry.attempts", &[name, ("resilience.retry.reason", "http_status")]),
        Some(2)
    );
    let opened =
        [name, ("resilience.circuit_breaker.from", "closed"), ("resilience.circuit_breaker.to", "open")];
    assert_eq!(metrics.value("resilience.circuit_breaker.transitions", &opened), Some(1));
    assert_eq!(metrics.value("resilience.circuit_breaker.state", &[name]), Some(2), "2 = open");
    assert_eq!(metrics.value("resilience.circuit_breaker.rejections", &[name]), Some(2));
}

#[tokio::test(start_paused = true)]
async fn shed_requests_budget_exhaustion_and_the_limit_are_metrics() {
    let metrics = Metrics::new();
    let limit = LimiterConfig::new("api", LimitAlgorithm::Fixed(1))
        .meter_provider(&metrics.provider)
        .build()
        .unwrap();
    let _held = limit.try_acquire(Priority::Critical).unwrap();
    let _ = limit.try_acquire(Priority::Critical).unwrap_err();
    let _ = limit.try_acquire(Priority::Sheddable).unwrap_err();
    let name = ("resilience.name", "api");
    assert_eq!(
        metrics.value("resilience.shed", &[name, ("resilience.shed.reason", "limit_reached")]),
        Some(1)
    );
    assert_eq!(metrics.value("resilience.shed", &[name, ("resilience.shed.reason", "sheddable")]), Some(1));
    assert_eq!(metrics.value("resilience.concurrency.limit", &[name]), Some(1));

    let policy = Policy::builder("db")
        .retry(
            RetryConfig::new("db")
                .budget(throughline_resilience::RetryBudget::new(0.0, 0).unwrap())
                .meter_provider(&metrics.provider),
        )
        .build()
        .unwrap();
    let _ = policy.call(|| async { Err::<(), _>(std::io::Error::other("down")) }).await;
    assert_eq!(metrics.value("resilience.retry.budget_exhausted", &[("resilience.name", "db")]), Some(1));
}
