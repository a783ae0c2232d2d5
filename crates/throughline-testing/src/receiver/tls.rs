//! The receiver's TLS mode: its certificate, optionally a client certificate
//! required of every sender, and the TLS listener the HTTP front end serves on.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How an [`OtlpReceiver`](crate::OtlpReceiver) speaks TLS: its certificate
/// chain and key (PEM), and, when set, the authority whose client
/// certificates it requires (mutual TLS). [`TestPki`](crate::TestPki) makes
/// them.
///
/// ```
/// use throughline_testing::TestPki;
///
/// let pki = TestPki::generate();
/// let mutual = pki.server_tls().require_client_certificate(pki.ca_pem());
/// # let _ = mutual;
/// ```
#[derive(Clone)]
pub struct ReceiverTls {
    pub(crate) certificate_pem: String,
    pub(crate) key_pem: String,
    pub(crate) client_ca_pem: Option<String>,
}

/// Leaves the private key out.
impl std::fmt::Debug for ReceiverTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverTls")
            .field("certificate_pem", &self.certificate_pem)
            .field("client_ca_pem", &self.client_ca_pem)
            .finish_non_exhaustive()
    }
}

impl ReceiverTls {
    /// A certificate chain and its private key, PEM.
    pub fn new(certificate_pem: &str, key_pem: &str) -> Self {
        Self { certificate_pem: certificate_pem.to_owned(), key_pem: key_pem.to_owned(), client_ca_pem: None }
    }

    /// Refuses every sender without a certificate signed by `ca_pem`.
    pub fn require_client_certificate(mut self, ca_pem: &str) -> Self {
        self.client_ca_pem = Some(ca_pem.to_owned());
        self
    }

    /// The gRPC front end's settings.
    pub(crate) fn tonic(&self) -> tonic::transport::ServerTlsConfig {
        let identity = tonic::transport::Identity::from_pem(&self.certificate_pem, &self.key_pem);
        let config = tonic::transport::ServerTlsConfig::new().identity(identity);
        match &self.client_ca_pem {
            Some(ca) => config.client_ca_root(tonic::transport::Certificate::from_pem(ca)),
            None => config,
        }
    }

    /// The HTTP front end's acceptor.
    pub(crate) fn acceptor(&self) -> io::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certificates = CertificateDer::pem_slice_iter(self.certificate_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(io::Error::other)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?;
        let builder = match &self.client_ca_pem {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots.add(certificate.map_err(io::Error::other)?).map_err(io::Error::other)?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(io::Error::other)?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(certificates, key).map_err(io::Error::other)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A TCP listener whose connections are TLS; a connection whose handshake
/// fails (a sender that does not trust the certificate, or has none to give)
/// is closed and counted, and the listener goes on.
pub(crate) struct TlsListener {
    pub(crate) tcp: TcpListener,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) refused: Arc<std::sync::atomic::AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of descriptors, most likely: let some close.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, peer),
                _ => {
                    self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
