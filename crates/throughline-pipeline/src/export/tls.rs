//! TLS for OTLP export, with rustls and ring, never OpenSSL: tonic's client
//! settings for gRPC, and a hyper client over hyper-rustls for HTTP. An
//! `https` endpoint is always verified: against the platform's roots, or the
//! authorities of `OTEL_EXPORTER_OTLP_CERTIFICATE` instead.

#[cfg(feature = "http")]
use std::sync::Arc;

#[cfg(feature = "http")]
use opentelemetry_http::hyper::HyperClient;
#[cfg(feature = "http")]
use rustls::RootCertStore;
#[cfg(feature = "http")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "http")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "http")]
use super::http_client::HttpClient;
#[cfg(feature = "http")]
use crate::config::OtlpConfig;
use crate::config::{ConfigError, TlsConfig};

/// The PEM files, read again at build (the configuration checked them).
struct Pem {
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Pem {
    fn read(tls: &TlsConfig) -> Result<Self, ConfigError> {
        let read =
            |variable: &str, path: &Option<std::path::PathBuf>| -> Result<Option<Vec<u8>>, ConfigError> {
                path.as_ref()
                    .map(|path| {
                        std::fs::read(path).map_err(|error| {
                            ConfigError::new(
                                variable,
                                &path.display().to_string(),
                                format!("cannot be read: {error}"),
                            )
                        })
                    })
                    .transpose()
            };
        let ca = read("OTEL_EXPORTER_OTLP_CERTIFICATE", &tls.certificate)?;
        let certificate = read("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &tls.client_certificate)?;
        let key = read("OTEL_EXPORTER_OTLP_CLIENT_KEY", &tls.client_key)?;
        Ok(Self { ca, identity: certificate.zip(key) })
    }
}

/// tonic's settings for an `https` gRPC endpoint.
#[cfg(feature = "grpc")]
pub(crate) fn tonic(tls: &TlsConfig) -> Result<tonic::transport::ClientTlsConfig, ConfigError> {
    let pem = Pem::read(tls)?;
    let config = tonic::transport::ClientTlsConfig::new();
    let config = match pem.ca {
        Some(ca) => config.ca_certificate(tonic::transport::Certificate::from_pem(ca)),
        None => config.with_native_roots(),
    };
    Ok(match pem.identity {
        Some((certificate, key)) => config.identity(tonic::transport::Identity::from_pem(certificate, key)),
        None => config,
    })
}

#[cfg(feature = "http")]
/// The HTTP exporter's client. A `https` URL is always TLS, verified; an
/// `http` URL, plaintext, as its scheme says.
pub(crate) fn http_client(config: &OtlpConfig) -> Result<HttpClient, ConfigError> {
    let https = config.endpoint.starts_with("https://");
    let tls = if https { client_config(&config.tls)? } else { plaintext_only()? };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(HttpClient::new(HyperClient::new(connector, config.timeout, None)))
}

#[cfg(feature = "http")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(feature = "http")]
fn builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, ConfigError> {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError::new("OTEL_EXPORTER_OTLP_ENDPOINT", "", error.to_string()))
}

#[cfg(feature = "http")]
/// No `https` URL reaches this client, but its connector needs a TLS
/// configuration: one that trusts nothing.
fn plaintext_only() -> Result<rustls::ClientConfig, ConfigError> {
    Ok(builder()?.with_root_certificates(RootCertStore::empty()).with_no_client_auth())
}

#[cfg(feature = "http")]
fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, ConfigError> {
    let pem = Pem::read(tls)?;
    let mut roots = RootCertStore::empty();
    match &pem.ca {
        Some(ca) => {
            let invalid = |problem: String| {
                let path = tls.certificate.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                ConfigError::new("OTEL_EXPORTER_OTLP_CERTIFICATE", &path, problem)
            };
            for certificate in CertificateDer::pem_slice_iter(ca) {
                let certificate = certificate.map_err(|error| invalid(error.to_string()))?;
                roots.add(certificate).map_err(|error| invalid(error.to_string()))?;
            }
        }
        None => {
            // The platform's roots; one unreadable certificate among them is
            // skipped rather than losing them all.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let builder = builder()?.with_root_certificates(roots);
    match pem.identity {
        Some((certificate, key)) => {
            let path = tls.client_certificate.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            let invalid =
                |problem: String| ConfigError::new("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &path, problem);
            let chain = CertificateDer::pem_slice_iter(&certificate)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| invalid(error.to_string()))?;
            // The key's own error would not print the key, but say nothing of it anyway.
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|_| invalid("its key is not a PEM private key".to_owned()))?;
            builder.with_client_auth_cert(chain, key).map_err(|error| invalid(error.to_string()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}
