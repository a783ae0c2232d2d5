//! Configuration the OpenTelemetry way: the standard `OTEL_*` environment
//! variables, read into typed values, every invalid value an error that names
//! its variable. Code overrides the environment through the
//! [`PipelineBuilder`](crate::PipelineBuilder).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where variables come from: the process environment, or a map in tests, so
/// that configuration can be tested without touching global state.
pub trait Vars {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Env;

impl Vars for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl<S: std::hash::BuildHasher> Vars for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl<S: std::hash::BuildHasher> Vars for HashMap<&str, &str, S> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).map(|v| v.to_string())
    }
}

/// A variable whose value cannot be honoured.
///
/// The message names the variable and says what would be accepted. A variable
/// that carries secrets (the `OTEL_EXPORTER_OTLP_*HEADERS`, where API keys
/// go) is never echoed: its [`value`](Self::value) is [`ConfigError::REDACTED`]
/// and the problem names only the header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub variable: String,
    /// Its value, or [`ConfigError::REDACTED`] for a variable that carries secrets.
    pub value: String,
    /// What is wrong, and what would be right.
    pub problem: String,
}

impl ConfigError {
    /// The value shown in place of one that may hold a secret.
    pub const REDACTED: &'static str = "[redacted]";

    pub(crate) fn new(variable: &str, value: &str, problem: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), value: value.to_owned(), problem: problem.into() }
    }

    /// An error about a variable whose value must not be printed.
    pub(crate) fn secret(variable: &str, problem: impl Into<String>) -> Self {
        Self::new(variable, Self::REDACTED, problem)
    }
}

/// The durations a variable in milliseconds may hold: at least one
/// millisecond (zero would be a busy loop or an export that cannot succeed),
/// at most an hour.
pub const DURATION_RANGE_MS: std::ops::RangeInclusive<u64> = 1..=3_600_000;

/// The sizes a queue or batch variable may hold: at least one item, at most a
/// million (a bound on memory, not a preallocation).
pub const SIZE_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000_000;

/// What the span count limits (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` and the
/// others of [`SpanLimitsConfig`]) accept: 0 keeps none.
pub const COUNT_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 0..=1_000_000;

/// A signal: traces, metrics or logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Measurements.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// The name used in variable names (`TRACES`) and URL paths (`traces`).
    fn upper(self) -> &'static str {
        match self {
            Self::Traces => "TRACES",
            Self::Metrics => "METRICS",
            Self::Logs => "LOGS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Traces => "v1/traces",
            Self::Metrics => "v1/metrics",
            Self::Logs => "v1/logs",
        }
    }
}

/// Where a signal goes (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`,
/// `OTEL_LOGS_EXPORTER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exporter {
    /// OTLP (the default for every signal).
    Otlp,
    /// Human-readable lines on standard output, for development.
    Console,
    /// A Prometheus `/metrics` endpoint (metrics only).
    Prometheus,
}

/// `grpc`, `http/protobuf` or `http/json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtlpProtocol {
    /// OTLP over gRPC, port 4317 by default.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, port 4318 by default.
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies.
    HttpJson,
}

/// Compression of OTLP payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// gzip.
    Gzip,
}

/// How one signal is sent over OTLP. Its `Debug` output shows header names,
/// never their values.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The protocol.
    pub protocol: OtlpProtocol,
    /// The full URL requests go to (for HTTP, with the `/v1/...` path).
    pub endpoint: String,
    /// Extra request headers (or gRPC metadata), such as an API key.
    pub headers: Vec<(String, String)>,
    /// How long one export may take.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: Option<Compression>,
    /// Certificates for an `https` endpoint.
    pub tls: TlsConfig,
}

/// The certificates of an `https` endpoint (`OTEL_EXPORTER_OTLP_CERTIFICATE`,
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY`, and
/// their `_TRACES_`, `_METRICS_` and `_LOGS_` variants). Each is a PEM file,
/// checked when the configuration is read. An `https` endpoint is always
/// verified, against the platform's roots unless `certificate` is set; a
/// failed handshake fails the export, never falling back to plaintext.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate authorities to trust instead of the platform's roots.
    pub certificate: Option<PathBuf>,
    /// The client's certificate chain, for mutual TLS; needs `client_key`.
    pub client_certificate: Option<PathBuf>,
    /// The client's private key, for mutual TLS; needs `client_certificate`.
    pub client_key: Option<PathBuf>,
}

/// The head sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerConfig {
    /// Record everything.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record this share of traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent; record every root (the default).
    ParentBasedAlwaysOn,
    /// Follow the parent; record no root.
    ParentBasedAlwaysOff,
    /// Follow the parent; record this share of roots.
    ParentBasedTraceIdRatio(f64),
}

/// The batch processors' settings (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most items held before new ones are dropped (and counted).
    pub max_queue_size: usize,
    /// The most items per export.
    pub max_export_batch_size: usize,
    /// How long items wait for a batch to fill.
    pub scheduled_delay: Duration,
    /// How long one export may take.
    pub export_timeout: Duration,
    /// The most bytes per export, by an upper estimate of the encoded items
    /// (3 MiB by default, under a collector's usual 4 MiB message limit); an
    /// item larger on its own has its longest string attributes cut, marked
    /// `…[truncated]`. Set in code, through
    /// [`PipelineBuilder::max_export_bytes`](crate::PipelineBuilder::max_export_bytes).
    pub max_export_bytes: usize,
}

/// The export size [`BatchConfig::max_export_bytes`] may be set to: 1 KiB to 64 MiB.
pub const EXPORT_BYTES_RANGE: std::ops::RangeInclusive<u64> = 1024..=64 * 1024 * 1024;

/// Everything the environment says about telemetry.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `OTEL_SDK_DISABLED`: no telemetry is produced or exported at all.
    pub disabled: bool,
    /// `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded, in order.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_EXPORTER`; empty for `none`.
    pub traces_exporters: Vec<Exporter>,
    /// `OTEL_METRICS_EXPORTER`; empty for `none`.
    pub metrics_exporters: Vec<Exporter>,
    /// `OTEL_LOGS_EXPORTER`; empty for `none`.
    pub logs_exporters: Vec<Exporter>,
    /// `OTEL_TRACES_SAMPLER` with its argument.
    pub sampler: SamplerConfig,
    /// `OTEL_EXPORTER_OTLP_*` and `OTEL_EXPORTER_OTLP_TRACES_*`.
    pub otlp_traces: OtlpConfig,
    /// `OTEL_EXPORTER_OTLP_*` and `OTEL_EXPORTER_OTLP_METRICS_*`.
    pub otlp_metrics: OtlpConfig,
    /// `OTEL_EXPORTER_OTLP_*` and `OTEL_EXPORTER_OTLP_LOGS_*`.
    pub otlp_logs: OtlpConfig,
    /// `OTEL_BSP_*`.
    pub span_batch: BatchConfig,
    /// `OTEL_BLRP_*`.
    pub log_batch: BatchConfig,
    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub metric_export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`.
    pub metric_export_timeout: Duration,
    /// `OTEL_SPAN_*_COUNT_LIMIT` and the others: what one span may hold.
    pub span_limits: SpanLimitsConfig,
}

/// How much one span may hold: what is past a limit is dropped (and
/// counted by the SDK as dropped), so that one request with many
/// attributes, events or links cannot grow a span without bound. The
/// defaults are the specification's, 128 each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimitsConfig {
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else `OTEL_ATTRIBUTE_COUNT_LIMIT`.
    pub attributes_per_span: u32,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`.
    pub events_per_span: u32,
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`.
    pub links_per_span: u32,
    /// `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`.
    pub attributes_per_event: u32,
    /// `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`.
    pub attributes_per_link: u32,
}

impl Default for Config {
    /// The defaults the OpenTelemetry specification gives, with no variable set.
    fn default() -> Self {
        let none: HashMap<&str, &str> = HashMap::new();
        Self::from_vars(&none).unwrap_or_else(|error| unreachable!("defaults are valid: {error}"))
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Env)
    }

    /// Reads any source of variables.
    pub fn from_vars(vars: &impl Vars) -> Result<Self, ConfigError> {
        let read = Reader(vars);
        Ok(Self {
            disabled: read.bool("OTEL_SDK_DISABLED")?.unwrap_or(false),
            service_name: read.string("OTEL_SERVICE_NAME"),
            resource_attributes: read.pairs("OTEL_RESOURCE_ATTRIBUTES")?,
            traces_exporters: read.exporters("OTEL_TRACES_EXPORTER", &[Exporter::Otlp, Exporter::Console])?,
            metrics_exporters: read.exporters(
                "OTEL_METRICS_EXPORTER",
                &[Exporter::Otlp, Exporter::Console, Exporter::Prometheus],
            )?,
            logs_exporters: read.exporters("OTEL_LOGS_EXPORTER", &[Exporter::Otlp, Exporter::Console])?,
            sampler: read.sampler()?,
            otlp_traces: read.otlp(Signal::Traces)?,
            otlp_metrics: read.otlp(Signal::Metrics)?,
            otlp_logs: read.otlp(Signal::Logs)?,
            span_batch: read.batch("OTEL_BSP", Duration::from_millis(5000))?,
            log_batch: read.batch("OTEL_BLRP", Duration::from_millis(1000))?,
            metric_export_interval: read
                .millis("OTEL_METRIC_EXPORT_INTERVAL")?
                .unwrap_or(Duration::from_secs(60)),
            metric_export_timeout: read
                .millis("OTEL_METRIC_EXPORT_TIMEOUT")?
                .unwrap_or(Duration::from_secs(30)),
            span_limits: read.span_limits()?,
        })
    }
}

impl Config {
    /// Checks values set in code (through
    /// [`PipelineBuilder::config_mut`](crate::PipelineBuilder::config_mut)) by
    /// the rules the variables follow; an error names the variable the value
    /// stands for.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let duration = |name: &str, value: Duration| {
            let millis = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
            check_range(name, millis, "a number of milliseconds", &DURATION_RANGE_MS)
        };
        let size = |name: &str, value: usize| {
            check_range(name, u64::try_from(value).unwrap_or(u64::MAX), "a number of items", &SIZE_RANGE)
        };
        for (prefix, batch) in [("OTEL_BSP", &self.span_batch), ("OTEL_BLRP", &self.log_batch)] {
            size(&format!("{prefix}_MAX_QUEUE_SIZE"), batch.max_queue_size)?;
            size(&format!("{prefix}_MAX_EXPORT_BATCH_SIZE"), batch.max_export_batch_size)?;
            duration(&format!("{prefix}_SCHEDULE_DELAY"), batch.scheduled_delay)?;
            duration(&format!("{prefix}_EXPORT_TIMEOUT"), batch.export_timeout)?;
            let bytes = u64::try_from(batch.max_export_bytes).unwrap_or(u64::MAX);
            check_range("max_export_bytes", bytes, "a number of bytes", &EXPORT_BYTES_RANGE)?;
        }
        for (signal, otlp) in [
            (Signal::Traces, &self.otlp_traces),
            (Signal::Metrics, &self.otlp_metrics),
            (Signal::Logs, &self.otlp_logs),
        ] {
            duration(&format!("OTEL_EXPORTER_OTLP_{}_TIMEOUT", signal.upper()), otlp.timeout)?;
        }
        duration("OTEL_METRIC_EXPORT_INTERVAL", self.metric_export_interval)?;
        duration("OTEL_METRIC_EXPORT_TIMEOUT", self.metric_export_timeout)
    }
}

fn check_range(
    name: &str,
    value: u64,
    what: &str,
    range: &std::ops::RangeInclusive<u64>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            &value.to_string(),
            format!("expected {what} from {} to {}", range.start(), range.end()),
        ))
    }
}

/// Reads and checks variables. An empty value counts as unset, as the
/// specification says.
struct Reader<'a, V: Vars>(&'a V);

impl<V: Vars> Reader<'_, V> {
    fn string(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(value) = self.string(name) else { return Ok(None) };
        match value.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ConfigError::new(name, &value, "expected true or false")),
        }
    }

    /// A number of milliseconds within [`DURATION_RANGE_MS`].
    fn millis(&self, name: &str) -> Result<Option<Duration>, ConfigError> {
        self.integer(name, "a number of milliseconds", &DURATION_RANGE_MS)
            .map(|v| v.map(Duration::from_millis))
    }

    /// A whole number within `range`.
    fn integer(
        &self,
        name: &str,
        what: &str,
        range: &std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ConfigError> {
        let Some(value) = self.string(name) else { return Ok(None) };
        let n = value.parse::<u64>().map_err(|_| {
            ConfigError::new(
                name,
                &value,
                format!("expected {what} from {} to {}", range.start(), range.end()),
            )
        })?;
        check_range(name, n, what, range).map(|()| Some(n))
    }

    /// `key=value,key2=value2`, values percent-decoded.
    fn pairs(&self, name: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(value) = self.string(name) else { return Ok(Vec::new()) };
        split_pairs(&value).map_err(|(pair, problem)| {
            let problem = match problem {
                PairProblem::NotKeyValue => format!("{pair:?} is not key=value"),
                PairProblem::EmptyKey => format!("{pair:?} has an empty key"),
                PairProblem::BadEscape => format!("{pair:?} has invalid percent-encoding"),
            };
            ConfigError::new(name, &value, problem)
        })
    }

    /// Pairs that must also be valid HTTP header names and values. The values
    /// are secrets (API keys): an error names the header at most, never a value.
    fn headers(&self, name: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(value) = self.string(name) else { return Ok(Vec::new()) };
        let pairs = split_pairs(&value).map_err(|(pair, problem)| {
            // The part before `=` is a header name, not a secret; without
            // one, the member is not shown at all.
            let key = pair.split_once('=').map(|(key, _)| key.trim());
            ConfigError::secret(
                name,
                match (problem, key) {
                    (PairProblem::BadEscape, Some(key)) => {
                        format!("the value of {key:?} has invalid percent-encoding")
                    }
                    (PairProblem::EmptyKey, _) => "a header has an empty name".to_owned(),
                    _ => "expected name=value pairs separated by commas".to_owned(),
                },
            )
        })?;
        for (key, value) in &pairs {
            if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                return Err(ConfigError::secret(name, format!("{key:?} is not a valid header name")));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return Err(ConfigError::secret(
                    name,
                    format!("the value of {key:?} is not a valid header value"),
                ));
            }
        }
        Ok(pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect())
    }

    fn exporters(&self, name: &str, supported: &[Exporter]) -> Result<Vec<Exporter>, ConfigError> {
        let Some(value) = self.string(name) else { return Ok(vec![Exporter::Otlp]) };
        let names: Vec<String> = value.split(',').map(|n| n.trim().to_ascii_lowercase()).collect();
        if names.iter().any(|n| n == "none") {
            return if names.len() == 1 {
                Ok(Vec::new())
            } else {
                Err(ConfigError::new(name, &value, "\"none\" cannot be combined with other exporters"))
            };
        }
        let mut exporters = Vec::new();
        for exporter in names {
            let parsed = match exporter.as_str() {
                "otlp" => Exporter::Otlp,
                "console" | "logging" => Exporter::Console,
                "prometheus" => Exporter::Prometheus,
                "zipkin" | "jaeger" => {
                    return Err(ConfigError::new(
                        name,
                        &value,
                        format!("{exporter} is not supported; use otlp"),
                    ));
                }
                other => {
                    return Err(ConfigError::new(name, &value, format!("unknown exporter {other:?}")));
                }
            };
            if !supported.contains(&parsed) {
                return Err(ConfigError::new(
                    name,
                    &value,
                    format!("{exporter} does not apply to this signal"),
                ));
            }
            if !exporters.contains(&parsed) {
                exporters.push(parsed);
            }
        }
        Ok(exporters)
    }

    fn sampler(&self) -> Result<SamplerConfig, ConfigError> {
        const NAME: &str = "OTEL_TRACES_SAMPLER";
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        let ratio = || -> Result<f64, ConfigError> {
            let Some(arg) = self.string(ARG) else { return Ok(1.0) };
            match arg.parse::<f64>() {
                Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
                _ => Err(ConfigError::new(ARG, &arg, "expected a ratio between 0 and 1")),
            }
        };
        let Some(value) = self.string(NAME) else { return Ok(SamplerConfig::ParentBasedAlwaysOn) };
        Ok(match value.to_ascii_lowercase().as_str() {
            "always_on" => SamplerConfig::AlwaysOn,
            "always_off" => SamplerConfig::AlwaysOff,
            "traceidratio" => SamplerConfig::TraceIdRatio(ratio()?),
            "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
            "jaeger_remote" | "parentbased_jaeger_remote" | "xray" => {
                return Err(ConfigError::new(NAME, &value, "this sampler is not supported"));
            }
            _ => {
                return Err(ConfigError::new(
                    NAME,
                    &value,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                ));
            }
        })
    }

    /// The signal-specific variable when set, else the generic one.
    fn either(&self, signal: Signal, suffix: &str) -> (String, Option<String>) {
        let specific = format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper());
        match self.string(&specific) {
            Some(value) => (specific, Some(value)),
            None => {
                let generic = format!("OTEL_EXPORTER_OTLP_{suffix}");
                let value = self.string(&generic);
                (generic, value)
            }
        }
    }

    fn otlp(&self, signal: Signal) -> Result<OtlpConfig, ConfigError> {
        let protocol = match self.either(signal, "PROTOCOL") {
            (_, None) => OtlpProtocol::HttpProtobuf,
            (name, Some(value)) => match value.as_str() {
                "grpc" => OtlpProtocol::Grpc,
                "http/protobuf" => OtlpProtocol::HttpProtobuf,
                "http/json" => OtlpProtocol::HttpJson,
                _ => {
                    return Err(ConfigError::new(&name, &value, "expected grpc, http/protobuf or http/json"));
                }
            },
        };
        // INSECURE only decides the scheme of a gRPC endpoint given without one.
        let insecure = match self.either(signal, "INSECURE") {
            (name, Some(_)) => self.bool(&name)?.unwrap_or(false),
            (_, None) => false,
        };
        let scheme = |url: String| match protocol {
            OtlpProtocol::Grpc if !url.contains("://") => {
                format!("{}://{url}", if insecure { "http" } else { "https" })
            }
            _ => url,
        };
        let specific_name = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper());
        let endpoint = match (self.string(&specific_name), self.string("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            // A signal-specific URL is used as it is.
            (Some(url), _) => check_url(&specific_name, scheme(url))?,
            // The generic one is a base: HTTP adds the signal's path.
            (None, Some(base)) => {
                let base = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", scheme(base))?;
                match protocol {
                    OtlpProtocol::Grpc => base,
                    _ => format!("{}/{}", base.trim_end_matches('/'), signal.path()),
                }
            }
            (None, None) => match protocol {
                OtlpProtocol::Grpc => "http://localhost:4317".to_owned(),
                _ => format!("http://localhost:4318/{}", signal.path()),
            },
        };
        let headers = {
            let mut headers = self.headers("OTEL_EXPORTER_OTLP_HEADERS")?;
            for (key, value) in self.headers(&format!("OTEL_EXPORTER_OTLP_{}_HEADERS", signal.upper()))? {
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                headers.push((key, value));
            }
            headers
        };
        let timeout = match self.either(signal, "TIMEOUT") {
            (_, None) => Duration::from_secs(10),
            (name, Some(_)) => self.millis(&name)?.unwrap_or(Duration::from_secs(10)),
        };
        let compression = match self.either(signal, "COMPRESSION") {
            (_, None) => None,
            (name, Some(value)) => match value.as_str() {
                "gzip" => Some(Compression::Gzip),
                "none" => None,
                _ => return Err(ConfigError::new(&name, &value, "expected gzip or none")),
            },
        };
        let tls = self.tls(signal)?;
        Ok(OtlpConfig { protocol, endpoint, headers, timeout, compression, tls })
    }

    /// The PEM files, each read and parsed now so that a wrong path or a
    /// file of the wrong kind fails at start, naming its variable.
    fn tls(&self, signal: Signal) -> Result<TlsConfig, ConfigError> {
        let file = |suffix: &str, kind: PemKind| -> Result<Option<(String, PathBuf)>, ConfigError> {
            let (name, value) = self.either(signal, suffix);
            let Some(path) = value else { return Ok(None) };
            let pem = std::fs::read(&path)
                .map_err(|error| ConfigError::new(&name, &path, format!("cannot be read: {error}")))?;
            let problem = match kind {
                PemKind::Certificates => {
                    match CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
                        Ok(certificates) if !certificates.is_empty() => None,
                        _ => Some("expected a PEM file of one or more certificates"),
                    }
                }
                // Never the key's content in the message.
                PemKind::Key => {
                    PrivateKeyDer::from_pem_slice(&pem).err().map(|_| "expected a PEM file of a private key")
                }
            };
            match problem {
                Some(problem) => Err(ConfigError::new(&name, &path, problem)),
                None => Ok(Some((name, PathBuf::from(path)))),
            }
        };
        let certificate = file("CERTIFICATE", PemKind::Certificates)?;
        let client_certificate = file("CLIENT_CERTIFICATE", PemKind::Certificates)?;
        let client_key = file("CLIENT_KEY", PemKind::Key)?;
        match (&client_certificate, &client_key) {
            (Some((name, path)), None) => {
                return Err(ConfigError::new(
                    name,
                    &path.display().to_string(),
                    "a client certificate needs its key in OTEL_EXPORTER_OTLP_CLIENT_KEY",
                ));
            }
            (None, Some((name, path))) => {
                return Err(ConfigError::new(
                    name,
                    &path.display().to_string(),
                    "a client key needs its certificate in OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ));
            }
            _ => {}
        }
        Ok(TlsConfig {
            certificate: certificate.map(|(_, path)| path),
            client_certificate: client_certificate.map(|(_, path)| path),
            client_key: client_key.map(|(_, path)| path),
        })
    }

    fn span_limits(&self) -> Result<SpanLimitsConfig, ConfigError> {
        let limit = |name: &str| -> Result<Option<u32>, ConfigError> {
            // The range fits a u32.
            Ok(self.integer(name, "a number of items", &COUNT_LIMIT_RANGE)?.map(|n| n as u32))
        };
        let general = limit("OTEL_ATTRIBUTE_COUNT_LIMIT")?;
        Ok(SpanLimitsConfig {
            attributes_per_span: limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")?.or(general).unwrap_or(128),
            events_per_span: limit("OTEL_SPAN_EVENT_COUNT_LIMIT")?.unwrap_or(128),
            links_per_span: limit("OTEL_SPAN_LINK_COUNT_LIMIT")?.unwrap_or(128),
            attributes_per_event: limit("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT")?.unwrap_or(128),
            attributes_per_link: limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")?.unwrap_or(128),
        })
    }

    fn batch(&self, prefix: &str, default_delay: Duration) -> Result<BatchConfig, ConfigError> {
        let size = |suffix: &str, default: usize| -> Result<usize, ConfigError> {
            let name = format!("{prefix}_{suffix}");
            // The range fits any usize the pipeline runs on.
            Ok(self
                .integer(&name, "a number of items", &SIZE_RANGE)?
                .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX)))
        };
        let max_queue_size = size("MAX_QUEUE_SIZE", 2048)?;
        let max_export_batch_size = size("MAX_EXPORT_BATCH_SIZE", 512)?.min(max_queue_size);
        Ok(BatchConfig {
            max_queue_size,
            max_export_batch_size,
            scheduled_delay: self.millis(&format!("{prefix}_SCHEDULE_DELAY"))?.unwrap_or(default_delay),
            export_timeout: self
                .millis(&format!("{prefix}_EXPORT_TIMEOUT"))?
                .unwrap_or(Duration::from_secs(30)),
            max_export_bytes: 3 * 1024 * 1024,
        })
    }
}

/// An endpoint must be an absolute `http` or `https` URL.
fn check_url(name: &str, url: String) -> Result<String, ConfigError> {
    match url.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some() => Ok(url),
        _ => Err(ConfigError::new(name, &url, "expected an absolute http:// or https:// URL")),
    }
}

/// What a PEM file must hold.
enum PemKind {
    Certificates,
    Key,
}

/// Why a `key=value` member was refused.
enum PairProblem {
    NotKeyValue,
    EmptyKey,
    BadEscape,
}

/// Splits `key=value,key2=value2` into trimmed keys and percent-decoded
/// values; empty members are skipped. An error carries the member and why.
fn split_pairs(value: &str) -> Result<Vec<(String, String)>, (&str, PairProblem)> {
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (key, val) = pair.split_once('=').ok_or((pair, PairProblem::NotKeyValue))?;
            let key = key.trim();
            if key.is_empty() {
                return Err((pair, PairProblem::EmptyKey));
            }
            let val = percent_decode(val.trim()).ok_or((pair, PairProblem::BadEscape))?;
            Ok((key.to_owned(), val))
        })
        .collect()
}

/// `%XX` escapes decoded; `None` when an escape is malformed or the result is
/// not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
            out.push((digit(i + 1)? * 16 + digit(i + 2)?) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials more often than not.
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(name, _)| (name.as_str(), ConfigError::REDACTED)).collect();
        f.debug_struct("OtlpConfig")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
            Self::HttpJson => "http/json",
        })
    }
}
