//! Certificates made on the spot for TLS tests: a certificate authority, a
//! server certificate for `127.0.0.1` and `localhost`, and a client
//! certificate, all signed by it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::receiver::ReceiverTls;

/// A certificate authority with a server and a client certificate it signed,
/// generated when created (a few milliseconds), never written anywhere
/// unless asked ([`TestPki::files`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use throughline_testing::{OtlpReceiver, TestPki};
///
/// let pki = TestPki::generate();
/// let receiver = OtlpReceiver::start_tls(pki.server_tls()).await?;
/// assert!(receiver.grpc_endpoint().starts_with("https://127.0.0.1:"));
/// let files = pki.files()?; // for OTEL_EXPORTER_OTLP_CERTIFICATE and friends
/// assert!(files.ca.exists());
/// # Ok(()) }
/// ```
pub struct TestPki {
    ca_pem: String,
    server: (String, String),
    expired_server: (String, String),
    client: (String, String),
}

/// Shows the authority only: private keys stay out of test logs.
impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("ca_pem", &self.ca_pem).finish_non_exhaustive()
    }
}

impl TestPki {
    /// A new authority and its certificates. Panics only if the key generator
    /// fails, which is a broken test environment.
    pub fn generate() -> Self {
        Self::try_generate().unwrap_or_else(|error| panic!("generating test certificates: {error}"))
    }

    fn try_generate() -> Result<Self, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        // A name of its own: two authorities in one test are told apart by it.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name =
            format!("throughline test CA {}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_pem = ca.self_signed(&ca_key)?.pem();
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |usage: ExtendedKeyUsagePurpose,
                    expired: bool|
         -> Result<(String, String), rcgen::Error> {
            let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
            params.distinguished_name.push(DnType::CommonName, "throughline test");
            params.extended_key_usages = vec![usage];
            if expired {
                params.not_before = rcgen::date_time_ymd(2000, 1, 1);
                params.not_after = rcgen::date_time_ymd(2001, 1, 1);
            }
            let key = KeyPair::generate()?;
            Ok((params.signed_by(&key, &issuer)?.pem(), key.serialize_pem()))
        };
        Ok(Self {
            ca_pem,
            server: leaf(ExtendedKeyUsagePurpose::ServerAuth, false)?,
            expired_server: leaf(ExtendedKeyUsagePurpose::ServerAuth, true)?,
            client: leaf(ExtendedKeyUsagePurpose::ClientAuth, false)?,
        })
    }

    /// The authority's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The client certificate and its private key, PEM.
    pub fn client_pem(&self) -> (&str, &str) {
        (&self.client.0, &self.client.1)
    }

    /// A receiver identity with the valid server certificate.
    pub fn server_tls(&self) -> ReceiverTls {
        ReceiverTls::new(&self.server.0, &self.server.1)
    }

    /// A receiver identity whose certificate expired in 2001.
    pub fn expired_server_tls(&self) -> ReceiverTls {
        ReceiverTls::new(&self.expired_server.0, &self.expired_server.1)
    }

    /// Writes the authority's certificate and the client's certificate and
    /// key to files in a new temporary directory, removed when the returned
    /// value is dropped.
    pub fn files(&self) -> std::io::Result<PkiFiles> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "throughline-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let write = |name: &str, pem: &str| -> std::io::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, pem)?;
            Ok(path)
        };
        Ok(PkiFiles {
            ca: write("ca.pem", &self.ca_pem)?,
            client_certificate: write("client.pem", &self.client.0)?,
            client_key: write("client-key.pem", &self.client.1)?,
            dir,
        })
    }
}

/// The files [`TestPki::files`] wrote; the directory is removed on drop.
#[derive(Debug)]
pub struct PkiFiles {
    dir: PathBuf,
    /// The authority's certificate, for `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    pub ca: PathBuf,
    /// The client certificate, for `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`.
    pub client_certificate: PathBuf,
    /// The client's private key, for `OTEL_EXPORTER_OTLP_CLIENT_KEY`.
    pub client_key: PathBuf,
}

impl PkiFiles {
    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PkiFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
