//! OTLP exporters built from an [`OtlpConfig`], over gRPC or HTTP, plaintext
//! or TLS as the endpoint's scheme says (see `tls.rs`).

use std::collections::HashMap;

use opentelemetry_otlp::{
    LogExporter, MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;

use crate::config::{Compression, OtlpConfig, OtlpProtocol, Signal};
use crate::error::PipelineError;
use crate::export::activity::ExportActivity;
use crate::export::http_client::LastError;
use crate::export::tls;

/// An exporter, and for HTTP where its client keeps why a request failed.
pub(crate) type Built<E> = (E, Option<LastError>);

pub(crate) fn span_exporter(
    config: &OtlpConfig,
    runtime: &Handle,
) -> Result<Built<SpanExporter>, PipelineError> {
    // The gRPC channel spawns its worker on the runtime current while it is built.
    let _on_export_runtime = runtime.enter();
    let _exporting = ExportActivity::enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => tonic(SpanExporter::builder().with_tonic(), config)?.build().map(|e| (e, None)),
        _ => {
            let (builder, last_error) = http(SpanExporter::builder().with_http(), config)?;
            builder.build().map(|e| (e, Some(last_error)))
        }
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
            tonic(MetricExporter::builder().with_tonic(), config)?.with_temporality(temporality).build()
        }
        _ => http(MetricExporter::builder().with_http(), config)?.0.with_temporality(temporality).build(),
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Metrics, source })
}

pub(crate) fn log_exporter(
    config: &OtlpConfig,
    runtime: &Handle,
) -> Result<Built<LogExporter>, PipelineError> {
    let _on_export_runtime = runtime.enter();
    let _exporting = ExportActivity::enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => tonic(LogExporter::builder().with_tonic(), config)?.build().map(|e| (e, None)),
        _ => {
            let (builder, last_error) = http(LogExporter::builder().with_http(), config)?;
            builder.build().map(|e| (e, Some(last_error)))
        }
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Logs, source })
}

fn tonic<B: WithExportConfig + WithTonicConfig>(builder: B, config: &OtlpConfig) -> Result<B, PipelineError> {
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
    let mut builder =
        builder.with_endpoint(&config.endpoint).with_timeout(config.timeout).with_metadata(metadata);
    if config.endpoint.starts_with("https://") {
        builder = builder.with_tls_config(tls::tonic(&config.tls)?);
    }
    Ok(match config.compression {
        Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => builder,
    })
}

fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    config: &OtlpConfig,
) -> Result<(B, LastError), PipelineError> {
    let protocol = match config.protocol {
        OtlpProtocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    let client = tls::http_client(config)?;
    let last_error = client.last_error();
    let builder = builder
        .with_http_client(client)
        .with_protocol(protocol)
        .with_endpoint(&config.endpoint)
        .with_timeout(config.timeout)
        .with_headers(headers);
    let builder = match config.compression {
        Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => builder,
    };
    Ok((builder, last_error))
}
