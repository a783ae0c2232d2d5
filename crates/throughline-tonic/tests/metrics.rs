//! The call durations of both sides, with their low-cardinality attributes.

mod support;

use futures_util::StreamExt;
use opentelemetry::KeyValue;
use support::{Service, Telemetry, client, request, serve};
use throughline_testing::Capture;
use throughline_tonic::semconv::RpcStability;
use throughline_tonic::{GrpcClientLayer, GrpcServerLayer};
use tonic::Code;

const UNARY: &str = "throughline.test.v1.Echo/Unary";
const STREAM: &str = "throughline.test.v1.Echo/Stream";

#[tokio::test]
async fn both_sides_record_the_call_duration_in_seconds() {
    let telemetry = Telemetry::install();
    let addr = serve(telemetry.server_layer(), Service::default()).await;
    let mut client =
        client(addr, telemetry.client_layer().server_address("127.0.0.1", Some(addr.port()))).await;

    client.unary(request("hi", 0, Code::Ok)).await.unwrap();
    client.unary(request("hi", 0, Code::Internal)).await.unwrap_err();
    let mut stream = client.stream(request("tick", 2, Code::Aborted)).await.unwrap().into_inner();
    while stream.next().await.is_some() {}

    let metrics = telemetry.capture.metrics();
    for name in ["rpc.server.call.duration", "rpc.client.call.duration"] {
        assert_eq!(metrics.unit(name).as_deref(), Some("s"), "{name}");
        for point in metrics.points(name) {
            let throughline_testing::PointValue::Histogram { bounds, .. } = point.value else {
                panic!("{name}")
            };
            assert_eq!(bounds, throughline_tonic::semconv::DURATION_BUCKETS, "the conventions' buckets");
        }
        let ok = [KeyValue::new("rpc.method", UNARY), KeyValue::new("rpc.response.status_code", "OK")];
        assert_eq!(metrics.histogram_count(name, &ok), 1, "{name}");
        let internal = [
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", UNARY),
            KeyValue::new("rpc.response.status_code", "INTERNAL"),
            KeyValue::new("error.type", "INTERNAL"),
        ];
        assert_eq!(metrics.histogram_count(name, &internal), 1, "{name}");
        let aborted =
            [KeyValue::new("rpc.method", STREAM), KeyValue::new("rpc.response.status_code", "ABORTED")];
        assert_eq!(metrics.histogram_count(name, &aborted), 1, "{name}");
        for point in metrics.points(name) {
            let keys: Vec<_> = point.attributes.iter().map(|kv| kv.key.as_str().to_owned()).collect();
            assert!(
                keys.iter().all(|key| [
                    "rpc.system.name",
                    "rpc.method",
                    "rpc.response.status_code",
                    "error.type",
                    "server.address",
                    "server.port"
                ]
                .contains(&key.as_str())),
                "{name}: {keys:?}"
            );
            let error = point.attributes.iter().find(|kv| kv.key.as_str() == "error.type");
            if name.starts_with("rpc.server") {
                // ABORTED is no server error; INTERNAL is.
                assert!(error.is_none() || error.unwrap().value.as_str() == "INTERNAL", "{point:?}");
            }
        }
    }
    let client_point =
        [KeyValue::new("server.address", "127.0.0.1"), KeyValue::new("server.port", i64::from(addr.port()))];
    assert_eq!(metrics.histogram_count("rpc.client.call.duration", &client_point), 3);
    assert_eq!(metrics.histogram_count("rpc.server.call.duration", &client_point), 0, "opt-in on the server");
}

#[tokio::test]
async fn rpc_dup_also_emits_the_old_names() {
    let telemetry = Telemetry::from(Capture::new());
    let meter_provider = telemetry.capture.meter_provider();
    let server =
        GrpcServerLayer::new().meter_provider(meter_provider).semconv_stability(RpcStability::Duplicate);
    let addr = serve(server, Service::default()).await;
    let layer =
        GrpcClientLayer::new().meter_provider(meter_provider).semconv_stability(RpcStability::Duplicate);
    let mut client = client(addr, layer).await;

    client.unary(request("hi", 0, Code::Unavailable)).await.unwrap_err();

    let metrics = telemetry.capture.metrics();
    let old = [
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", "throughline.test.v1.Echo"),
        KeyValue::new("rpc.grpc.status_code", 14),
    ];
    for name in ["rpc.server.duration", "rpc.client.duration"] {
        assert_eq!(metrics.unit(name).as_deref(), Some("ms"), "{name}");
        assert_eq!(metrics.histogram_count(name, &old), 1, "{name}");
    }
    let spans = telemetry.capture.spans();
    for span in spans.all() {
        let attribute =
            |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(attribute("rpc.system"), Some("grpc".into()));
        assert_eq!(attribute("rpc.service"), Some("throughline.test.v1.Echo".into()));
        assert_eq!(attribute("rpc.grpc.status_code"), Some(14.into()));
        assert_eq!(attribute("rpc.response.status_code"), Some("UNAVAILABLE".into()));
    }
}
