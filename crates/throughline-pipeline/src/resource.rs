//! The resource: who is producing this telemetry.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{ResourceDetector, TelemetryResourceDetector};

use crate::config::Config;

/// Values set in code, which win over the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResourceOverrides {
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) attributes: Vec<KeyValue>,
}

/// Host and process attributes, then `OTEL_RESOURCE_ATTRIBUTES`, then
/// `OTEL_SERVICE_NAME`, then what code set: each later source wins.
pub(crate) fn resource(config: &Config, overrides: &ResourceOverrides) -> Resource {
    let executable = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut attributes = vec![
        KeyValue::new("service.name", format!("unknown_service:{executable}")),
        KeyValue::new("host.name", gethostname::gethostname().to_string_lossy().into_owned()),
        KeyValue::new("host.arch", host_arch()),
        KeyValue::new("os.type", os_type()),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.executable.name", executable),
        KeyValue::new("process.runtime.name", "rust"),
    ];
    attributes.extend(config.resource_attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())));
    if let Some(name) = &config.service_name {
        attributes.push(KeyValue::new("service.name", name.clone()));
    }
    if let Some(name) = &overrides.service_name {
        attributes.push(KeyValue::new("service.name", name.clone()));
    }
    if let Some(version) = &overrides.service_version {
        attributes.push(KeyValue::new("service.version", version.clone()));
    }
    if let Some(environment) = &overrides.environment {
        attributes.push(KeyValue::new("deployment.environment.name", environment.clone()));
    }
    attributes.extend(overrides.attributes.iter().cloned());
    Resource::builder_empty()
        .with_detectors(&[Box::new(TelemetryResourceDetector) as Box<dyn ResourceDetector>])
        .with_attributes(attributes)
        .build()
}

/// The semantic conventions' names for the CPU architecture.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// The semantic conventions' names for the operating system.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}
