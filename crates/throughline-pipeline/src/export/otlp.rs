//! OTLP exporters built from an [`OtlpConfig`], over gRPC or HTTP, plaintext
//! or TLS as the endpoint's scheme says (see `tls.rs`).

#[cfg(feature = "http")]
use std::collections::HashMap;

#[cfg(feature = "http")]
use opentelemetry_otlp::WithHttpConfig;
#[cfg(feature = "grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;

use crate::config::{Compression, ConfigError, OtlpConfig, OtlpProtocol, Signal};
use crate::error::PipelineError;
use crate::export::activity::ExportActivity;
use crate::export::http_client::LastError;
#[cfg(any(feature = "grpc", feature = "http"))]
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
        #[cfg(feature = "grpc")]
        OtlpProtocol::Grpc => tonic(SpanExporter::builder().with_tonic(), config)?.build().map(|e| (e, None)),
        #[cfg(feature = "http")]
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            let (builder, last_error) = http(SpanExporter::builder().with_http(), config)?;
            builder.build().map(|e| (e, Some(last_error)))
        }
        #[allow(unreachable_patterns)]
        protocol => return Err(not_built(protocol).into()),
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
        #[cfg(feature = "grpc")]
        OtlpProtocol::Grpc => {
            tonic(MetricExporter::builder().with_tonic(), config)?.with_temporality(temporality).build()
        }
        #[cfg(feature = "http")]
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            http(MetricExporter::builder().with_http(), config)?.0.with_temporality(temporality).build()
        }
        #[allow(unreachable_patterns)]
        protocol => return Err(not_built(protocol).into()),
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
        #[cfg(feature = "grpc")]
        OtlpProtocol::Grpc => tonic(LogExporter::builder().with_tonic(), config)?.build().map(|e| (e, None)),
        #[cfg(feature = "http")]
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            let (builder, last_error) = http(LogExporter::builder().with_http(), config)?;
            builder.build().map(|e| (e, Some(last_error)))
        }
        #[allow(unreachable_patterns)]
        protocol => return Err(not_built(protocol).into()),
    };
    built.map_err(|source| PipelineError::Exporter { signal: Signal::Logs, source })
}

/// The protocol asked for is one this build left out.
#[allow(dead_code)] // every protocol is built by default
fn not_built(protocol: OtlpProtocol) -> ConfigError {
    let (name, feature) = match protocol {
        OtlpProtocol::Grpc => ("grpc", "grpc"),
        OtlpProtocol::HttpProtobuf => ("http/protobuf", "http"),
        OtlpProtocol::HttpJson => ("http/json", "http"),
    };
    ConfigError::new(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        name,
        format!("this build has no such transport: turn on throughline-pipeline's `{feature}` feature"),
    )
}

#[cfg(feature = "grpc")]
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

#[cfg(feature = "http")]
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
