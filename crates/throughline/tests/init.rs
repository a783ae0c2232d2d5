//! `init()` end to end. Installing a global subscriber can happen once per
//! process, so each scenario runs in a process of its own: the test named
//! `scenario_*` runs this test binary again with only its `child_*` twin.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use opentelemetry::trace::TraceContextExt as _;
use throughline::{Init, InitError, LogFormat};
use throughline_testing::{OtlpReceiver, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const WAIT: Duration = Duration::from_secs(10);

/// Runs the `child` test in a new process with `env`, checks it passed, and
/// returns what it wrote to standard output.
fn run_child(child: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--ignored", "--nocapture", "--test-threads", "1"])
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{child} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "{child} did not run:\n{stdout}");
    stdout.into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn scenario_spans_logs_metrics_and_propagation() {
    run_child("child_spans_logs_metrics_and_propagation", &[]);
}

#[test]
#[ignore = "runs in its own process, from scenario_spans_logs_metrics_and_propagation"]
fn child_spans_logs_metrics_and_propagation() {
    runtime().block_on(async {
        let receiver = OtlpReceiver::start().await.unwrap();
        let endpoint = receiver.grpc_endpoint();
        let vars = HashMap::from([
            ("OTEL_SERVICE_NAME", "init-test"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
            ("THROUGHLINE_LOG_FORMAT", "json"),
        ]);
        let guard = Init::from_vars(&vars).unwrap().install().unwrap();
        // The layers decide before building a span by the sampler the pipeline runs.
        assert_eq!(
            throughline_propagation::HeadSampler::global(),
            Some(throughline_propagation::HeadSampler::ALWAYS_ON.parent_based()),
            "init() publishes the default sampler, parentbased_always_on"
        );

        let span = tracing::info_span!("checkout", order.id = 42);
        let trace_id = span.context().span().span_context().trace_id().to_string();
        span.in_scope(|| tracing::warn!(amount = 3, "card declined"));
        let mut carrier = HashMap::new();
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&span.context(), &mut carrier));
        drop(span);
        opentelemetry::global::meter("init-test").u64_counter("checkouts").build().add(1, &[]);

        let traceparent = carrier.get("traceparent").expect("the global propagator is throughline's");
        assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");

        let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
        let checkout = spans.iter().find(|s| s.name() == "checkout").unwrap();
        assert_eq!(checkout.attribute("order.id"), Some(Value::Int(42)));
        assert_eq!(checkout.resource_attribute("service.name"), Some(Value::Str("init-test".into())));
        assert_eq!(checkout.trace_id(), trace_id);

        let logs = receiver.wait_for_logs(1, WAIT).await.unwrap();
        let declined = logs.iter().find(|l| l.body().as_deref() == Some("card declined")).unwrap();
        assert_eq!(declined.trace_id(), Some(trace_id), "the log record carries its trace");
        assert_eq!(declined.severity(), "WARN");

        receiver.wait_for_metric("checkouts", WAIT).await.unwrap();
        guard.shutdown(WAIT).await.unwrap();
    });
}

#[test]
fn scenario_init_reads_the_process_environment() {
    let rt = runtime();
    let receiver = rt.block_on(OtlpReceiver::start()).unwrap();
    let endpoint = receiver.http_endpoint();
    run_child(
        "child_init_reads_the_process_environment",
        &[
            ("OTEL_SERVICE_NAME", "from-the-environment"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=payments"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("THROUGHLINE_LOG_FORMAT", "off"),
        ],
    );
    let spans = rt.block_on(receiver.wait_for_spans(1, WAIT)).unwrap();
    assert_eq!(spans[0].name(), "from env");
    assert_eq!(spans[0].resource_attribute("service.name"), Some(Value::Str("from-the-environment".into())));
    assert_eq!(spans[0].resource_attribute("team"), Some(Value::Str("payments".into())));
}

#[test]
#[ignore = "runs in its own process, from scenario_init_reads_the_process_environment"]
fn child_init_reads_the_process_environment() {
    runtime().block_on(async {
        let guard = throughline::init().unwrap();
        tracing::info_span!("from env").in_scope(|| {});
        guard.shutdown(WAIT).await.unwrap();
    });
}

#[test]
fn scenario_invalid_environment_is_an_error_that_names_the_variable() {
    run_child("child_invalid_environment", &[("OTEL_TRACES_SAMPLER", "sometimes")]);
}

#[test]
#[ignore = "runs in its own process, from scenario_invalid_environment_is_an_error_that_names_the_variable"]
fn child_invalid_environment() {
    let error = throughline::init().expect_err("init must refuse");
    assert!(error.to_string().starts_with("OTEL_TRACES_SAMPLER=\"sometimes\""), "{error}");
    assert!(
        tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>()),
        "nothing was installed"
    );
}

#[test]
fn scenario_init_twice_is_an_error() {
    run_child("child_init_twice", &[("OTEL_SDK_DISABLED", "true"), ("THROUGHLINE_LOG_FORMAT", "off")]);
}

#[test]
#[ignore = "runs in its own process, from scenario_init_twice_is_an_error"]
fn child_init_twice() {
    let _first = throughline::init().unwrap();
    assert!(matches!(throughline::init(), Err(InitError::AlreadyInitialized)));
}

fn refused(vars: &[(&str, &str)]) -> String {
    let vars: HashMap<&str, &str> = vars.iter().copied().collect();
    match Init::from_vars(&vars) {
        Ok(_) => panic!("{vars:?} must be refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_variable_init_reads_is_checked() {
    assert!(refused(&[("RUST_LOG", "orders=loud")]).starts_with("RUST_LOG="));
    assert!(refused(&[("THROUGHLINE_LOG_FORMAT", "xml")]).starts_with("THROUGHLINE_LOG_FORMAT="));
    assert!(Init::from_vars(&HashMap::from([("THROUGHLINE_LOG_FORMAT", "LogFmt")])).is_ok());
    assert!(refused(&[("OTEL_PROPAGATORS", "tracecontext,carrier-pigeon")]).starts_with("OTEL_PROPAGATORS"));
    assert!(refused(&[("OTEL_SDK_DISABLED", "maybe")]).starts_with("OTEL_SDK_DISABLED="));
    assert!(
        refused(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector")]).starts_with("OTEL_EXPORTER_OTLP_ENDPOINT=")
    );
    assert!(refused(&[("OTEL_METRICS_EXPORTER", "statsd")]).starts_with("OTEL_METRICS_EXPORTER="));
    let ok: HashMap<&str, &str> =
        HashMap::from([("THROUGHLINE_LOG_FORMAT", "compact"), ("RUST_LOG", "info,h2=off")]);
    let init = Init::from_vars(&ok).unwrap();
    assert!(init.log_filter("not a [valid filter").is_err());
    let _ = LogFormat::Json;
}

const SECRETS: [&str; 4] = ["hunter2", "4111 1111 1111 1111", "jane@example.com", "eyJhbGciOiJIUzI1NiJ9"];

#[test]
fn scenario_log_lines_carry_the_trace_and_inherited_fields() {
    for format in ["logfmt", "json"] {
        let stdout = run_child(
            "child_log_lines_carry_the_trace_and_inherited_fields",
            &[
                ("THROUGHLINE_LOG_FORMAT", format),
                ("OTEL_TRACES_EXPORTER", "console"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ],
        );
        let trace_id = stdout
            .lines()
            .find_map(|line| line.split("expected trace_id=").nth(1))
            .unwrap_or_else(|| panic!("the child printed its trace id:\n{stdout}"));
        let line = stdout
            .lines()
            .find(|line| line.contains("message=charged") || line.contains(r#""message":"charged""#))
            .unwrap_or_else(|| panic!("{stdout}"));
        let (trace, request) = match format {
            "json" => {
                let line: serde_json::Value = serde_json::from_str(line).unwrap();
                (line["trace_id"].as_str().map(str::to_owned), line["request_id"].as_str().map(str::to_owned))
            }
            _ => {
                let value = |key: &str| {
                    line.split(' ').find_map(|pair| pair.strip_prefix(&format!("{key}="))).map(str::to_owned)
                };
                (value("trace_id"), value("request_id"))
            }
        };
        assert_eq!(trace.as_deref(), Some(trace_id), "{format}: {line}");
        assert_eq!(request.as_deref(), Some("r-42"), "{format}: {line}");
    }
}

#[test]
#[ignore = "runs in its own process, from scenario_log_lines_carry_the_trace_and_inherited_fields"]
fn child_log_lines_carry_the_trace_and_inherited_fields() {
    runtime().block_on(async {
        let guard = throughline::init().unwrap();
        let request = tracing::info_span!("request", request_id = "r-42");
        println!("expected trace_id={}", request.context().span().span_context().trace_id());
        request.in_scope(|| tracing::info_span!("charge").in_scope(|| tracing::info!("charged")));
        drop(request);
        guard.shutdown(WAIT).await.unwrap();
    });
}

#[test]
fn scenario_secrets_never_leave_the_process() {
    let stdout = run_child("child_secrets_never_leave_the_process", &[]);
    for secret in SECRETS {
        assert!(!stdout.contains(secret), "{secret} reached standard output:\n{stdout}");
    }
    assert!(stdout.contains(" card=[REDACTED] "), "{stdout}");
}

#[test]
#[ignore = "runs in its own process, from scenario_secrets_never_leave_the_process"]
fn child_secrets_never_leave_the_process() {
    runtime().block_on(async {
        let receiver = OtlpReceiver::start().await.unwrap();
        let endpoint = receiver.grpc_endpoint();
        let vars = HashMap::from([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
            ("THROUGHLINE_LOG_FORMAT", "logfmt"),
        ]);
        let guard = Init::from_vars(&vars).unwrap().install().unwrap();

        let checkout = tracing::info_span!(
            "checkout",
            user.email = "jane@example.com",
            password = "hunter2",
            metric_name = "checkout",
            metric_label_route = "/checkout",
        );
        checkout.in_scope(|| {
            tracing::warn!(
                card = "4111 1111 1111 1111",
                "charging jane@example.com with Bearer eyJhbGciOiJIUzI1NiJ9"
            );
        });
        drop(checkout);

        let spans = receiver.wait_for_spans(1, WAIT).await.unwrap();
        let logs = receiver.wait_for_logs(1, WAIT).await.unwrap();
        let checkout = spans.iter().find(|s| s.name() == "checkout").unwrap();
        assert_eq!(checkout.attribute("password"), Some(Value::Str("[REDACTED]".into())));
        assert_eq!(checkout.attribute("user.email"), Some(Value::Str("[REDACTED]".into())));
        assert!(!checkout.event_names().is_empty(), "the event became a span event");
        let log = logs.iter().find(|l| l.body().is_some_and(|b| b.starts_with("charging"))).unwrap();
        assert_eq!(log.body().as_deref(), Some("charging [REDACTED] with Bearer [REDACTED]"));
        assert_eq!(log.attribute("password"), Some(Value::Str("[REDACTED]".into())), "inherited, redacted");
        let received = format!("{spans:?}{logs:?}");
        for secret in SECRETS {
            assert!(!received.contains(secret), "{secret} reached the collector: {received}");
        }

        let totals = receiver.wait_for_metric("checkout_total", WAIT).await.unwrap();
        assert_eq!(totals.last().and_then(|m| m.sum()), Some(1.0), "span metrics are on by default");
        guard.shutdown(WAIT).await.unwrap();
    });
}

#[test]
fn scenario_other_crates_telemetry_is_exported_and_the_exporters_own_is_not() {
    let rt = runtime();
    // The receiver lives in this process, so the child's only HTTP/2 work is its exporter's.
    let receiver = rt.block_on(OtlpReceiver::start()).unwrap();
    let endpoint = receiver.grpc_endpoint();
    run_child(
        "child_other_crates_telemetry_is_exported",
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "20"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("THROUGHLINE_LOG_FORMAT", "off"),
        ],
    );
    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert!(names.contains(&"request"), "tower-http's span was exported: {names:?}");
    assert!(names.contains(&"GET /orders"), "the reqwest-tracing-like span was exported: {names:?}");
    assert!(
        names.iter().all(|n| ["request", "GET /orders", "tower_inner"].contains(n)),
        "only the application's spans, none of the exporter's own: {names:?}"
    );
    let bodies: Vec<String> = receiver.logs().iter().filter_map(|l| l.body()).collect();
    assert!(
        bodies.iter().any(|b| b == "finished processing request"),
        "tower-http's event was exported: {bodies:?}"
    );
    assert!(
        bodies.iter().all(|b| {
            ["started processing request", "finished processing request", "called the payments service"]
                .contains(&b.as_str())
        }),
        "only the application's events, none of the exporter's own: {bodies:?}"
    );
}

#[test]
#[ignore = "runs in its own process, from scenario_other_crates_telemetry_is_exported_and_the_exporters_own_is_not"]
fn child_other_crates_telemetry_is_exported() {
    use tower::{ServiceBuilder, ServiceExt as _};
    use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

    runtime().block_on(async {
        // Everything, h2, hyper, tonic and tower included, at every level.
        let guard = Init::from_env().unwrap().log_filter("trace").unwrap().install().unwrap();
        // A first export, so that the exporter's connection has traced
        // before the application's telemetry is recorded.
        tracing::info_span!(target: "tower_inner", "tower_inner").in_scope(|| {});
        guard.telemetry().tracer_provider().unwrap().force_flush().unwrap();

        let service = ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .service_fn(|_request: http::Request<String>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            });
        let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
        drop(response);
        tracing::info_span!(target: "reqwest_tracing::reqwest_otel_span_builder", "GET /orders").in_scope(
            || {
                tracing::info!(target: "reqwest_tracing", "called the payments service");
            },
        );
        guard.shutdown(WAIT).await.unwrap();
    });
}
