//! OTLP exporters built from an [`OtlpConfig`], over gRPC or HTTP.

use std::collections::HashMap;

use opentelemetry_otlp::{
    LogExporter, MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;

use crate::config::{Compression, OtlpConfig, OtlpProtocol, Signal};
use crate::error::PipelineError;
use crate::export::activity::ExportActivity;

pub(crate) fn span_exporter(config: &OtlpConfig, runtime: &Handle) -> Result<SpanExporter, PipelineError> {
    // The gRPC channel spawns its worker on the runtime current while it is built.
    let _on_export_runtime = runtime.enter();
    let _exporting = ExportActivity::enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => tonic(SpanExporter::builder().with_tonic(), config).build(),
        _ => http(SpanExporter::builder().with_http(), config).build(),
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Traces, source })
}

pub(crate) fn metric_exporter(
    config: &OtlpConfig,
    temporality: Temporality,
    runtime: &Handle,
) -> Result<MetricExporter, PipelineError> {
    let _on_export_runtime = runtime.enter();
    let _exporting = ExportActivity::enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => {
            tonic(MetricExporter::builder().with_tonic(), config).with_temporality(temporality).build()
        }
        _ => http(MetricExporter::builder().with_http(), config).with_temporality(temporality).build(),
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Metrics, source })
}

pub(crate) fn log_exporter(config: &OtlpConfig, runtime: &Handle) -> Result<LogExporter, PipelineError> {
    let _on_export_runtime = runtime.enter();
    let _exporting = ExportActivity::enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => tonic(LogExporter::builder().with_tonic(), config).build(),
        _ => http(LogExporter::builder().with_http(), config).build(),
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Logs, source })
}

fn tonic<B: WithExportConfig + WithTonicConfig>(builder: B, config: &OtlpConfig) -> B {
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (key, value) in &config.headers {
        // The configuration checked that names and values are valid headers.
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            metadata.insert(key, value);
        }
    }
    let builder =
        builder.with_endpoint(&config.endpoint).with_timeout(config.timeout).with_metadata(metadata);
    match config.compression {
        Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => builder,
    }
}

fn http<B: WithExportConfig + WithHttpConfig>(builder: B, config: &OtlpConfig) -> B {
    let protocol = match config.protocol {
        OtlpProtocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    let builder = builder
        .with_http_client(reqwest::Client::new())
        .with_protocol(protocol)
        .with_endpoint(&config.endpoint)
        .with_timeout(config.timeout)
        .with_headers(headers);
    match config.compression {
        Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => builder,
    }
}
