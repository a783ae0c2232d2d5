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

const DURATION: &[&str] =
    &["0", "-1", "3600001", "18446744073709551616", "1.5", "10s", "ten", "NaN", "0x10", "+"];
const SIZE: &[&str] = &["0", "-5", "1000001", "18446744073709551615", "2.0", "many", "1e3"];
const COUNT_LIMIT: &[&str] = &["-1", "1000001", "18446744073709551615", "1.5", "all", "1e3"];

/// A variable the pipeline reads, values it must refuse, and any variable
/// the refusal depends on.
struct Case {
    variable: String,
    values: &'static [&'static str],
    context: &'static [(&'static str, &'static str)],
}

fn case(variable: impl Into<String>, values: &'static [&'static str]) -> Case {
    Case { variable: variable.into(), values, context: &[] }
}

fn bad_values() -> Vec<Case> {
    let mut table = vec![
        case("OTEL_SDK_DISABLED", &["yes", "1", "on", "t"]),
        case("OTEL_RESOURCE_ATTRIBUTES", &["novalue", "=x", "k=%zz", "k=%f"]),
        case("OTEL_TRACES_EXPORTER", &["zipkin", "otlp,none", "carrier-pigeon", ",,", "prometheus"]),
        case("OTEL_METRICS_EXPORTER", &["jaeger", "none,otlp", "statsd"]),
        case("OTEL_LOGS_EXPORTER", &["prometheus", "syslog"]),
        case("OTEL_TRACES_SAMPLER", &["sometimes", "xray", "ALWAYS ON"]),
        Case {
            context: &[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")],
            ..case("OTEL_TRACES_SAMPLER_ARG", &["-0.1", "1.01", "NaN", "inf", "half", "1e400"])
        },
        case("OTEL_METRIC_EXPORT_INTERVAL", DURATION),
        case("OTEL_METRIC_EXPORT_TIMEOUT", DURATION),
        case("OTEL_ATTRIBUTE_COUNT_LIMIT", COUNT_LIMIT),
        case("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", COUNT_LIMIT),
        case("OTEL_SPAN_EVENT_COUNT_LIMIT", COUNT_LIMIT),
        case("OTEL_SPAN_LINK_COUNT_LIMIT", COUNT_LIMIT),
        case("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", COUNT_LIMIT),
        case("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", COUNT_LIMIT),
    ];
    for prefix in ["OTEL_BSP", "OTEL_BLRP"] {
        table.push(case(format!("{prefix}_SCHEDULE_DELAY"), DURATION));
        table.push(case(format!("{prefix}_EXPORT_TIMEOUT"), DURATION));
        table.push(case(format!("{prefix}_MAX_QUEUE_SIZE"), SIZE));
        table.push(case(format!("{prefix}_MAX_EXPORT_BATCH_SIZE"), SIZE));
    }
    for signal in ["", "TRACES_", "METRICS_", "LOGS_"] {
        let otlp = |suffix: &str| format!("OTEL_EXPORTER_OTLP_{signal}{suffix}");
        table.push(case(otlp("PROTOCOL"), &["http", "GRPC", "udp", "http/xml"]));
        table.push(case(
            otlp("ENDPOINT"),
            &["collector:4317", "ftp://collector", "http://", "not a url", "//x"],
        ));
        table.push(case(otlp("HEADERS"), &["novalue", "=x", "bad key=1", "k=%0A", "k=%zz", "k=\u{7f}"]));
        table.push(case(otlp("TIMEOUT"), DURATION));
        table.push(case(otlp("COMPRESSION"), &["brotli", "GZIP", "deflate"]));
        table.push(case(otlp("INSECURE"), &["yes", "1", "insecure"]));
        // Paths: one that does not exist, and a file that is not PEM.
        table.push(case(otlp("CERTIFICATE"), &["/nonexistent/ca.pem", "Cargo.toml", "src"]));
        table.push(case(otlp("CLIENT_CERTIFICATE"), &["/nonexistent/client.pem", "Cargo.toml"]));
        table.push(case(otlp("CLIENT_KEY"), &["/nonexistent/client-key.pem", "Cargo.toml"]));
    }
    table
}

#[test]
fn every_variable_refuses_bad_values_with_an_error_naming_it_never_a_panic() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for Case { variable, values, context } in bad_values() {
        for value in values {
            cases += 1;
            let mut vars: HashMap<&str, &str> = context.iter().copied().collect();
            vars.insert(&variable, value);
            let outcome = std::panic::catch_unwind(|| Config::from_vars(&vars));
            match outcome {
                Err(_) => failures.push(format!("{variable}={value:?} panicked")),
                Ok(Ok(_)) => failures.push(format!("{variable}={value:?} was accepted")),
                Ok(Err(error)) if error.variable != variable => {
                    failures.push(format!("{variable}={value:?} blamed {}", error.variable));
                }
                Ok(Err(error)) if !error.to_string().starts_with(variable.as_str()) => {
                    failures.push(format!("{variable}={value:?}: the message does not name it: {error}"));
                }
                Ok(Err(_)) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(cases > 150, "{cases}");
}

#[test]
fn a_refused_duration_or_size_states_the_accepted_range() {
    let error = invalid(&[("OTEL_BSP_SCHEDULE_DELAY", "0")], "OTEL_BSP_SCHEDULE_DELAY");
    assert!(error.problem.contains("from 1 to 3600000"), "{error}");
    let error = invalid(&[("OTEL_BLRP_MAX_QUEUE_SIZE", "99999999999")], "OTEL_BLRP_MAX_QUEUE_SIZE");
    assert!(error.problem.contains("from 1 to 1000000"), "{error}");
    // The bounds themselves are accepted.
    let config = config(&[("OTEL_BSP_SCHEDULE_DELAY", "1"), ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000")]).unwrap();
    assert_eq!(config.span_batch.scheduled_delay, Duration::from_millis(1));
    assert_eq!(config.span_batch.max_queue_size, 1_000_000);
}

#[test]
fn a_header_value_is_never_printed_in_an_error_or_debug_output() {
    for (variable, value) in [
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t%0A"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer s3cr3t,bad key=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "s3cr3t"),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "api-key=s3cr3t%zz"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "=s3cr3t"),
    ] {
        let error = invalid(&[(variable, value)], variable);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(error.value, ConfigError::REDACTED);
    }
    // The header's name is not a secret, and helps.
    let error = invalid(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t%0A")], "OTEL_EXPORTER_OTLP_HEADERS");
    assert!(error.problem.contains("api-key"), "{error}");

    let config = config(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t")]).unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("api-key") && !debug.contains("s3cr3t"), "{debug}");
    assert_eq!(config.otlp_traces.headers, [("api-key".to_owned(), "s3cr3t".to_owned())]);
}

#[test]
fn values_set_in_code_are_checked_by_the_same_rules() {
    let mut builder = throughline_pipeline::Pipeline::from_vars(&HashMap::<&str, &str>::new()).unwrap();
    builder.config_mut().span_batch.scheduled_delay = Duration::ZERO;
    let error = builder.build().expect_err("a zero delay is refused at build");
    assert!(error.to_string().starts_with("OTEL_BSP_SCHEDULE_DELAY"), "{error}");

    let mut builder = throughline_pipeline::Pipeline::from_vars(&HashMap::<&str, &str>::new()).unwrap();
    builder.config_mut().log_batch.max_queue_size = usize::MAX;
    let error = builder.build().expect_err("an absurd queue is refused at build");
    assert!(error.to_string().starts_with("OTEL_BLRP_MAX_QUEUE_SIZE"), "{error}");

    let builder = throughline_pipeline::Pipeline::from_vars(&HashMap::<&str, &str>::new()).unwrap();
    let error = builder.max_export_bytes(100).build().expect_err("100-byte requests are refused");
    assert!(error.to_string().starts_with("max_export_bytes"), "{error}");
    assert_eq!(Config::default().span_batch.max_export_bytes, 3 << 20, "under a collector's 4 MiB");
}

#[test]
fn otel_exporter_otlp_insecure_decides_the_scheme_of_a_grpc_endpoint_without_one() {
    let grpc = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")];
    assert_eq!(config(&grpc).unwrap().otlp_traces.endpoint, "https://collector:4317", "secure by default");
    let insecure = [grpc[0], grpc[1], ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true")];
    let config = config(&insecure).unwrap();
    assert_eq!(config.otlp_traces.endpoint, "http://collector:4317");
    assert_eq!(config.otlp_logs.endpoint, "https://collector:4317", "only the traces were made insecure");
    let explicit = [
        grpc[0],
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ];
    assert_eq!(
        self::config(&explicit).unwrap().otlp_traces.endpoint,
        "https://collector:4317",
        "a scheme given is kept"
    );
    invalid(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")], "OTEL_EXPORTER_OTLP_ENDPOINT");
}

#[test]
fn otel_exporter_otlp_certificate_client_certificate_and_client_key() {
    let pki = throughline_testing::TestPki::generate();
    let files = pki.files().unwrap();
    let (ca, certificate, key) = (
        files.ca.display().to_string(),
        files.client_certificate.display().to_string(),
        files.client_key.display().to_string(),
    );
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE", certificate.as_str()),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", key.as_str()),
    ])
    .unwrap();
    assert_eq!(config.otlp_traces.tls.certificate.as_deref(), Some(files.ca.as_path()));
    assert_eq!(config.otlp_traces.tls.client_certificate, None);
    assert_eq!(config.otlp_logs.tls.client_key.as_deref(), Some(files.client_key.as_path()));

    let error = invalid(
        &[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", certificate.as_str())],
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    );
    assert!(error.problem.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY"), "{error}");
    invalid(&[("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str())], "OTEL_EXPORTER_OTLP_CLIENT_KEY");
    // A certificate where the key should be, and the other way round.
    invalid(
        &[
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", certificate.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", ca.as_str()),
        ],
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    );
    let error =
        invalid(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", key.as_str())], "OTEL_EXPORTER_OTLP_CERTIFICATE");
    let key_pem = std::fs::read_to_string(&files.client_key).unwrap();
    let body = key_pem.lines().nth(1).unwrap();
    assert!(!format!("{error} {error:?}").contains(body), "a key is never printed: {error}");
}

#[test]
fn span_limits_default_to_the_specifications_and_read_their_variables() {
    let defaults = config(&[]).unwrap().span_limits;
    assert_eq!(
        (defaults.attributes_per_span, defaults.events_per_span, defaults.links_per_span),
        (128, 128, 128)
    );
    let general = config(&[("OTEL_ATTRIBUTE_COUNT_LIMIT", "16")]).unwrap().span_limits;
    assert_eq!(general.attributes_per_span, 16);
    let limits = config(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "16"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "8"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "2"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "3"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "4"),
    ])
    .unwrap()
    .span_limits;
    assert_eq!(
        (
            limits.attributes_per_span,
            limits.events_per_span,
            limits.links_per_span,
            limits.attributes_per_event,
            limits.attributes_per_link
        ),
        (8, 0, 2, 3, 4)
    );
}
