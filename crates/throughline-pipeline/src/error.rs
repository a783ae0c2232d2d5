//! What can go wrong building or stopping the pipeline.

use std::time::Duration;

use crate::config::{ConfigError, Signal};

/// The pipeline could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A variable or builder value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An exporter could not be built.
    #[error("the OTLP {signal:?} exporter could not be built: {source}")]
    Exporter {
        /// Which signal.
        signal: Signal,
        /// Why.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The Prometheus exporter could not be built.
    #[error("the Prometheus exporter could not be built: {0}")]
    Prometheus(String),
    /// The export thread could not be started.
    #[error("the export thread could not be started: {0}")]
    Thread(#[from] std::io::Error),
}

/// Shutdown did not flush everything in time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The deadline passed before every signal was flushed.
    #[error("telemetry was not flushed within {0:?}")]
    DeadlineExceeded(Duration),
    /// An export task had died (its exporter panicked): what it held, and
    /// everything after, was dropped and counted.
    #[error("the {signal:?} export task died earlier: {reason}")]
    ExportTaskDied {
        /// Which signal.
        signal: Signal,
        /// What the panic said.
        reason: String,
    },
    /// A provider reported a failure while flushing.
    #[error("flushing {signal:?} failed: {message}")]
    Flush {
        /// Which signal.
        signal: Signal,
        /// What the SDK said.
        message: String,
    },
}
