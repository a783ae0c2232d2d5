//! The `/metrics` endpoint serves the text format a real Prometheus parser reads.

use std::collections::HashMap;

use axum::Router;
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use throughline_pipeline::Pipeline;

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let vars = HashMap::from([
        ("OTEL_SERVICE_NAME", "orders"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    let telemetry = Pipeline::from_vars(&vars).unwrap().build().unwrap();
    let meter = telemetry.meter_provider().unwrap().meter("orders");
    meter
        .u64_counter("orders.placed")
        .with_description("Orders placed")
        .build()
        .add(7, &[KeyValue::new("region", "eu")]);
    // Named with the suffixes the exporter would add: they are not doubled.
    meter.u64_counter("checkout_total").build().add(2, &[]);
    meter.f64_histogram("checkout_duration_seconds").with_unit("s").build().record(0.1, &[]);
    let latency = meter.f64_histogram("http.server.request.duration").with_unit("s").build();
    latency.record(0.02, &[KeyValue::new("http.route", "/orders")]);
    // Bound, as throughline-tower's `bound-metrics` records: the pipeline's
    // SDK honours it, or this measurement would be dropped.
    latency.bind(&[KeyValue::new("http.route", "/orders")]).record(0.7);

    let prometheus = telemetry.prometheus().unwrap().clone();
    let app = Router::new().route_service("/metrics", prometheus);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let body = response.text().await.unwrap();

    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let placed = scrape.samples.iter().find(|s| s.metric == "orders_placed_total").expect(&body);
    assert_eq!(placed.labels.get("region"), Some("eu"));
    assert!(matches!(placed.value, prometheus_parse::Value::Counter(v) if v == 7.0));
    let histogram =
        scrape.samples.iter().find(|s| s.metric == "http_server_request_duration_seconds").expect(&body);
    let prometheus_parse::Value::Histogram(buckets) = &histogram.value else {
        panic!("{:?}", histogram.value)
    };
    let count_at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
    assert_eq!(count_at(f64::INFINITY), Some(2.0));
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "target_info" && s.labels.get("service_name") == Some("orders"))
    );
}
