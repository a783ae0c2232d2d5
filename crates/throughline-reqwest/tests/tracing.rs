//! `TracingMiddleware` against a real axum server on 127.0.0.1.

mod support;

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::Sampler;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use support::{attribute, client_spans, parse_traceparent, refused_address, serve};
use throughline_core::ResendCount;
use throughline_reqwest::{ClientInstrumentation, SuppressPropagation, TracingMiddleware, UrlTemplate};
use throughline_testing::Capture;
use throughline_tower::semconv::SemconvStability;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

fn client(capture: &Capture, instrumentation: ClientInstrumentation) -> ClientWithMiddleware {
    let instrumentation =
        instrumentation.meter_provider(capture.meter_provider()).semconv_stability(SemconvStability::Stable);
    ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::with_instrumentation(instrumentation))
        .build()
}

async fn echo(client: &ClientWithMiddleware, url: String) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn the_client_span_is_the_parent_the_server_receives() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());

    let parent = tracing::info_span!("checkout");
    let echoed = echo(&client, format!("http://{addr}/echo")).instrument(parent.clone()).await;
    let parent_cx = parent.context();
    drop(parent);

    let (trace_id, parent_id, flags) = parse_traceparent(&echoed).expect("a traceparent was sent");
    let spans = client_spans(&capture);
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "GET");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(trace_id, span.span_context.trace_id().to_string());
    assert_eq!(trace_id, parent_cx.span().span_context().trace_id().to_string());
    assert_eq!(parent_id, span.span_context.span_id().to_string(), "the client span is the server's parent");
    assert_eq!(span.parent_span_id, parent_cx.span().span_context().span_id());
    assert_eq!(flags, "01");
    let expect = [
        ("http.request.method", Value::from("GET")),
        ("server.address", Value::from("127.0.0.1")),
        ("server.port", Value::from(i64::from(addr.port()))),
        ("url.full", Value::from(format!("http://{addr}/echo"))),
        ("http.response.status_code", Value::from(200)),
        ("network.protocol.version", Value::from("1.1")),
    ];
    for (key, value) in expect {
        assert_eq!(attribute(span, key), Some(&value), "{key}");
    }
    assert_eq!(attribute(span, "error.type"), None);
    assert!(!matches!(span.status, Status::Error { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn a_url_template_names_the_span() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    client
        .get(format!("http://{addr}/status/204"))
        .with_extension(UrlTemplate::new("/status/{code}"))
        .send()
        .await
        .unwrap();
    let spans = client_spans(&capture);
    assert_eq!(spans[0].name, "GET /status/{code}");
    assert_eq!(attribute(&spans[0], "url.template"), Some(&Value::from("/status/{code}")));
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_is_an_error_with_its_status_code() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    let response = client.get(format!("http://{addr}/status/500")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let spans = client_spans(&capture);
    assert_eq!(attribute(&spans[0], "error.type"), Some(&Value::from("500")));
    assert_eq!(attribute(&spans[0], "http.response.status_code"), Some(&Value::from(500)));
    assert!(matches!(spans[0].status, Status::Error { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connection_is_a_connect_error() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let addr = refused_address().await;
    let client = client(&capture, ClientInstrumentation::new());
    let error = client.get(format!("http://{addr}/")).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    let spans = client_spans(&capture);
    assert_eq!(attribute(&spans[0], "error.type"), Some(&Value::from("connect")));
    assert_eq!(attribute(&spans[0], "http.response.status_code"), None);
    assert!(matches!(spans[0].status, Status::Error { .. }));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_timeout_is_a_timeout() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    let error =
        client.get(format!("http://{addr}/slow")).timeout(Duration::from_secs(1)).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let spans = client_spans(&capture);
    assert_eq!(attribute(&spans[0], "error.type"), Some(&Value::from("timeout")));
}

#[tokio::test(flavor = "current_thread")]
async fn a_filtered_out_client_span_still_propagates_the_current_context() {
    let capture = Capture::new();
    // Client spans are filtered out; the application's spans are not.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target(throughline_tower::client::TARGET, tracing::level_filters::LevelFilter::OFF);
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(capture.layer(), filter));
    let _default = tracing::subscriber::set_default(subscriber);
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());

    let parent = tracing::info_span!("checkout");
    let echoed = echo(&client, format!("http://{addr}/echo")).instrument(parent.clone()).await;
    let parent_cx = parent.context();
    let (trace_id, parent_id, _) = parse_traceparent(&echoed).expect("a traceparent was sent");
    assert_eq!(trace_id, parent_cx.span().span_context().trace_id().to_string());
    assert_eq!(parent_id, parent_cx.span().span_context().span_id().to_string());
    drop(parent);
    assert!(client_spans(&capture).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_sampled_out_client_span_still_propagates_unsampled() {
    let capture = Capture::with_sampler(Sampler::AlwaysOff);
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    let echoed = echo(&client, format!("http://{addr}/echo")).await;
    let (_, _, flags) = parse_traceparent(&echoed).expect("a traceparent was sent");
    // Not sampled; random, as the span started the trace with a random id.
    assert_eq!(flags, "02");
    assert!(client_spans(&capture).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_unsampled_random_parent_keeps_its_flag() {
    let capture = Capture::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    let remote = throughline_propagation::TraceContext::new(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".parse().unwrap(),
    );
    let job = tracing::info_span!("job");
    job.set_parent(remote.to_context(&opentelemetry::Context::new())).unwrap();
    let echoed = echo(&client, format!("http://{addr}/echo")).instrument(job).await;
    let (trace_id, parent_id, flags) = parse_traceparent(&echoed).expect("a traceparent was sent");
    assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(parent_id, "00f067aa0ba902b7");
    assert_eq!(flags, "02");
}

#[tokio::test(flavor = "current_thread")]
async fn injection_is_turned_off_per_request_and_per_host() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let url = format!("http://{addr}/echo");

    let client_all = client(&capture, ClientInstrumentation::new());
    let echoed = client_all.get(&url).with_extension(SuppressPropagation).send().await.unwrap();
    assert_eq!(echoed.text().await.unwrap(), "none none");

    let by_host = client(&capture, ClientInstrumentation::new().no_propagation_to(["127.0.0.1"]));
    assert_eq!(echo(&by_host, url.clone()).await, "none none");
    let other_host = client(&capture, ClientInstrumentation::new().no_propagation_to(["example.com"]));
    assert!(parse_traceparent(&echo(&other_host, url).await).is_some());
    // The spans are recorded all the same.
    assert_eq!(client_spans(&capture).len(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn url_full_has_no_userinfo_and_no_secret() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new().redact_query_key("token"));
    echo(&client, format!("http://alice:s3cr3t@{addr}/echo?token=abc&q=rust")).await;
    let spans = client_spans(&capture);
    let expected = format!("http://{addr}/echo?token=REDACTED&q=rust");
    assert_eq!(attribute(&spans[0], "url.full"), Some(&Value::from(expected)));
}

#[tokio::test(flavor = "current_thread")]
async fn a_resend_is_counted() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    client.get(format!("http://{addr}/echo")).send().await.unwrap();
    client.get(format!("http://{addr}/echo")).with_extension(ResendCount(2)).send().await.unwrap();
    let spans = client_spans(&capture);
    assert_eq!(attribute(&spans[0], "http.request.resend_count"), None, "a first send has none");
    assert_eq!(attribute(&spans[1], "http.request.resend_count"), Some(&Value::from(2)));
}

#[tokio::test(flavor = "current_thread")]
async fn http_dup_adds_the_old_names() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let instrumentation = ClientInstrumentation::new()
        .meter_provider(capture.meter_provider())
        .semconv_stability(SemconvStability::Duplicate);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::with_instrumentation(instrumentation))
        .build();
    echo(&client, format!("http://{addr}/echo")).await;
    let spans = client_spans(&capture);
    assert_eq!(attribute(&spans[0], "http.method"), Some(&Value::from("GET")));
    assert_eq!(attribute(&spans[0], "http.url"), Some(&Value::from(format!("http://{addr}/echo"))));
    assert_eq!(attribute(&spans[0], "net.peer.name"), Some(&Value::from("127.0.0.1")));
    assert_eq!(attribute(&spans[0], "http.status_code"), Some(&Value::from(200)));
    assert_eq!(attribute(&spans[0], "http.request.method"), Some(&Value::from("GET")));
}

#[tokio::test(flavor = "current_thread")]
async fn the_duration_is_recorded_with_the_conventions_attributes() {
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    echo(&client, format!("http://{addr}/echo")).await;
    client.get(format!("http://{addr}/status/503")).send().await.unwrap();

    let metrics = capture.metrics();
    let name = "http.client.request.duration";
    assert_eq!(metrics.unit(name).as_deref(), Some("s"));
    let common = [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", i64::from(addr.port())),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("network.protocol.version", "1.1"),
    ];
    let ok = [&common[..], &[KeyValue::new("http.response.status_code", 200)]].concat();
    assert_eq!(metrics.histogram_count(name, &ok), 1);
    let failed =
        [&common[..], &[KeyValue::new("http.response.status_code", 503), KeyValue::new("error.type", "503")]]
            .concat();
    assert_eq!(metrics.histogram_count(name, &failed), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn baggage_goes_along_with_the_trace() {
    use opentelemetry::baggage::BaggageExt;
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new());
    let cx = opentelemetry::Context::current_with_baggage([KeyValue::new("tenant", "acme")]);
    let _attached = cx.attach();
    let echoed = echo(&client, format!("http://{addr}/echo")).await;
    assert!(parse_traceparent(&echoed).is_some());
    assert!(echoed.ends_with(" tenant=acme"), "{echoed}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_global_propagator_can_be_used_instead() {
    use opentelemetry::propagation::{Injector, TextMapPropagator, text_map_propagator::FieldIter};
    /// Writes a header of its own, so that the test sees which propagator ran.
    #[derive(Debug)]
    struct Marker;
    impl TextMapPropagator for Marker {
        fn inject_context(&self, _: &opentelemetry::Context, injector: &mut dyn Injector) {
            injector.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned());
        }
        fn extract_with_context(
            &self,
            cx: &opentelemetry::Context,
            _: &dyn opentelemetry::propagation::Extractor,
        ) -> opentelemetry::Context {
            cx.clone()
        }
        fn fields(&self) -> FieldIter<'_> {
            FieldIter::new(&[])
        }
    }
    opentelemetry::global::set_text_map_propagator(Marker);
    let capture = Capture::new();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let (addr, _) = serve().await;
    let client = client(&capture, ClientInstrumentation::new().global_propagator());
    let echoed = echo(&client, format!("http://{addr}/echo")).await;
    assert!(echoed.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{echoed}");
}
