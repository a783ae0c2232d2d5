//! Every variable the pipeline reads, with valid and invalid values. The
//! variables come from a map, so the tests never touch the process environment.

use std::collections::HashMap;
use std::time::Duration;

use throughline_pipeline::{Compression, Config, ConfigError, Exporter, OtlpProtocol, SamplerConfig};

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<&str, &str> = vars.iter().copied().collect();
    Config::from_vars(&vars)
}

#[track_caller]
fn invalid(vars: &[(&str, &str)], variable: &str) -> ConfigError {
    let error = config(vars).expect_err("the value must be refused");
    assert_eq!(error.variable, variable, "{error}");
    assert!(error.to_string().starts_with(variable), "the message names the variable: {error}");
    error
}

#[test]
fn defaults_follow_the_specification() {
    let config = config(&[]).unwrap();
    assert!(!config.disabled);
    assert_eq!(config.traces_exporters, [Exporter::Otlp]);
    assert_eq!(config.metrics_exporters, [Exporter::Otlp]);
    assert_eq!(config.logs_exporters, [Exporter::Otlp]);
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(config.otlp_traces.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(config.otlp_traces.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(config.otlp_metrics.endpoint, "http://localhost:4318/v1/metrics");
    assert_eq!(config.otlp_traces.timeout, Duration::from_secs(10));
    assert_eq!(config.span_batch.max_queue_size, 2048);
    assert_eq!(config.span_batch.max_export_batch_size, 512);
    assert_eq!(config.span_batch.scheduled_delay, Duration::from_secs(5));
    assert_eq!(config.metric_export_interval, Duration::from_secs(60));
    assert_eq!(config, Config::default());
}

#[test]
fn otel_sdk_disabled() {
    assert!(config(&[("OTEL_SDK_DISABLED", "true")]).unwrap().disabled);
    assert!(config(&[("OTEL_SDK_DISABLED", "TRUE")]).unwrap().disabled);
    assert!(!config(&[("OTEL_SDK_DISABLED", "false")]).unwrap().disabled);
    assert!(!config(&[("OTEL_SDK_DISABLED", "")]).unwrap().disabled, "empty is unset");
    invalid(&[("OTEL_SDK_DISABLED", "yes")], "OTEL_SDK_DISABLED");
}

#[test]
fn otel_service_name() {
    assert_eq!(config(&[("OTEL_SERVICE_NAME", " orders ")]).unwrap().service_name.as_deref(), Some("orders"));
    assert_eq!(config(&[("OTEL_SERVICE_NAME", "")]).unwrap().service_name, None);
}

#[test]
fn otel_resource_attributes() {
    let config =
        config(&[("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod, team=pay%20ments,")])
            .unwrap();
    assert_eq!(
        config.resource_attributes,
        [("deployment.environment.name".into(), "prod".into()), ("team".into(), "pay ments".into())]
    );
    invalid(&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")], "OTEL_RESOURCE_ATTRIBUTES");
    invalid(&[("OTEL_RESOURCE_ATTRIBUTES", "=x")], "OTEL_RESOURCE_ATTRIBUTES");
    invalid(&[("OTEL_RESOURCE_ATTRIBUTES", "k=%zz")], "OTEL_RESOURCE_ATTRIBUTES");
}

#[test]
fn otel_traces_metrics_and_logs_exporter() {
    let config = config(&[
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ])
    .unwrap();
    assert_eq!(config.traces_exporters, [Exporter::Otlp, Exporter::Console]);
    assert_eq!(config.metrics_exporters, [Exporter::Prometheus]);
    assert!(config.logs_exporters.is_empty());
    invalid(&[("OTEL_TRACES_EXPORTER", "zipkin")], "OTEL_TRACES_EXPORTER");
    invalid(&[("OTEL_TRACES_EXPORTER", "prometheus")], "OTEL_TRACES_EXPORTER");
    invalid(&[("OTEL_METRICS_EXPORTER", "otlp,carrier-pigeon")], "OTEL_METRICS_EXPORTER");
    invalid(&[("OTEL_LOGS_EXPORTER", "none,otlp")], "OTEL_LOGS_EXPORTER");
}

#[test]
fn otel_traces_sampler_and_arg() {
    let sampler = |vars: &[(&str, &str)]| config(vars).unwrap().sampler;
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "always_on")]), SamplerConfig::AlwaysOn);
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "always_off")]), SamplerConfig::AlwaysOff);
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]),
        SamplerConfig::ParentBasedAlwaysOff
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")]),
        SamplerConfig::TraceIdRatio(0.25)
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")]),
        SamplerConfig::ParentBasedTraceIdRatio(1.0),
        "the ratio defaults to 1"
    );
    invalid(&[("OTEL_TRACES_SAMPLER", "sometimes")], "OTEL_TRACES_SAMPLER");
    invalid(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")], "OTEL_TRACES_SAMPLER");
    invalid(
        &[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")],
        "OTEL_TRACES_SAMPLER_ARG",
    );
    invalid(
        &[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "half")],
        "OTEL_TRACES_SAMPLER_ARG",
    );
}

#[test]
fn otel_exporter_otlp_protocol() {
    let config =
        config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json")])
            .unwrap();
    assert_eq!(config.otlp_traces.protocol, OtlpProtocol::Grpc);
    assert_eq!(config.otlp_traces.endpoint, "http://localhost:4317");
    assert_eq!(config.otlp_logs.protocol, OtlpProtocol::HttpJson);
    invalid(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http")], "OTEL_EXPORTER_OTLP_PROTOCOL");
    invalid(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp")], "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
}

#[test]
fn otel_exporter_otlp_endpoint() {
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:9090/custom/path"),
    ])
    .unwrap();
    assert_eq!(
        config.otlp_traces.endpoint, "http://collector:4318/v1/traces",
        "the base gets the signal path"
    );
    assert_eq!(config.otlp_logs.endpoint, "http://collector:4318/v1/logs");
    assert_eq!(config.otlp_metrics.endpoint, "http://metrics:9090/custom/path", "a signal URL is used as is");
    let grpc = self::config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
    ])
    .unwrap();
    assert_eq!(grpc.otlp_traces.endpoint, "http://collector:4317");
    invalid(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")], "OTEL_EXPORTER_OTLP_ENDPOINT");
    invalid(
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector")],
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    );
}

#[test]
fn otel_exporter_otlp_headers() {
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,X-Team=a%2Cb"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-KEY=traces-secret"),
    ])
    .unwrap();
    assert_eq!(
        config.otlp_traces.headers,
        [("x-team".into(), "a,b".into()), ("api-key".into(), "traces-secret".into())],
        "the signal's header replaces the generic one"
    );
    assert_eq!(config.otlp_metrics.headers[0], ("api-key".into(), "secret".into()));
    invalid(&[("OTEL_EXPORTER_OTLP_HEADERS", "bad key=1")], "OTEL_EXPORTER_OTLP_HEADERS");
    invalid(&[("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "k=%0A")], "OTEL_EXPORTER_OTLP_LOGS_HEADERS");
}

#[test]
fn otel_exporter_otlp_timeout() {
    let config =
        config(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"), ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "100")])
            .unwrap();
    assert_eq!(config.otlp_traces.timeout, Duration::from_millis(2500));
    assert_eq!(config.otlp_logs.timeout, Duration::from_millis(100));
    invalid(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")], "OTEL_EXPORTER_OTLP_TIMEOUT");
    invalid(&[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1")], "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
}

#[test]
fn otel_exporter_otlp_compression() {
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
    ])
    .unwrap();
    assert_eq!(config.otlp_traces.compression, Some(Compression::Gzip));
    assert_eq!(config.otlp_metrics.compression, None);
    invalid(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")], "OTEL_EXPORTER_OTLP_COMPRESSION");
}

#[test]
fn otel_bsp_and_blrp() {
    let config = config(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "10"),
    ])
    .unwrap();
    assert_eq!(config.span_batch.max_queue_size, 100);
    assert_eq!(config.span_batch.max_export_batch_size, 100, "a batch never exceeds the queue");
    assert_eq!(config.span_batch.scheduled_delay, Duration::from_millis(250));
    assert_eq!(config.span_batch.export_timeout, Duration::from_secs(1));
    assert_eq!(config.log_batch.max_queue_size, 10);
    invalid(&[("OTEL_BSP_MAX_QUEUE_SIZE", "0")], "OTEL_BSP_MAX_QUEUE_SIZE");
    invalid(&[("OTEL_BLRP_SCHEDULE_DELAY", "soon")], "OTEL_BLRP_SCHEDULE_DELAY");
}

#[test]
fn otel_metric_export_interval_and_timeout() {
    let config =
        config(&[("OTEL_METRIC_EXPORT_INTERVAL", "1000"), ("OTEL_METRIC_EXPORT_TIMEOUT", "500")]).unwrap();
    assert_eq!(config.metric_export_interval, Duration::from_secs(1));
    assert_eq!(config.metric_export_timeout, Duration::from_millis(500));
    invalid(&[("OTEL_METRIC_EXPORT_INTERVAL", "1m")], "OTEL_METRIC_EXPORT_INTERVAL");
}
