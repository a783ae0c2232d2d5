//! The standalone viewer: an OTLP collector (gRPC and HTTP) and the UI, each
//! on its own listener, until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::Viewer;

/// Where the standalone viewer listens. The defaults are the OTLP ports on
/// loopback (4317 gRPC, 4318 HTTP) and the UI on `127.0.0.1:16686`.
///
/// ```
/// use throughline_viewer::Addresses;
///
/// let vars = [("THROUGHLINE_VIEWER_UI_ADDR", "127.0.0.1:0")];
/// let addresses = Addresses::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))?;
/// assert_eq!(addresses.ui.port(), 0);
/// assert_eq!(addresses.grpc.port(), 4317);
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// OTLP over gRPC.
    pub grpc: SocketAddr,
    /// OTLP over HTTP.
    pub http: SocketAddr,
    /// The UI and the JSON endpoints.
    pub ui: SocketAddr,
}

impl Default for Addresses {
    fn default() -> Self {
        Self {
            grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http: SocketAddr::from(([127, 0, 0, 1], 4318)),
            ui: SocketAddr::from(([127, 0, 0, 1], 16686)),
        }
    }
}

impl Addresses {
    /// The defaults, overridden by `THROUGHLINE_VIEWER_GRPC_ADDR`,
    /// `THROUGHLINE_VIEWER_HTTP_ADDR` and `THROUGHLINE_VIEWER_UI_ADDR` as
    /// `vars` gives them; an unparsable address is an error naming the variable.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut out = Self::default();
        for (name, slot) in [
            ("THROUGHLINE_VIEWER_GRPC_ADDR", &mut out.grpc),
            ("THROUGHLINE_VIEWER_HTTP_ADDR", &mut out.http),
            ("THROUGHLINE_VIEWER_UI_ADDR", &mut out.ui),
        ] {
            if let Some(value) = vars(name).filter(|v| !v.is_empty()) {
                *slot =
                    value.parse().map_err(|e| format!("{name}={value:?}: not an address and port: {e}"))?;
            }
        }
        Ok(out)
    }
}

/// The standalone viewer's listeners, bound.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use throughline_viewer::{Addresses, Listeners};
///
/// let any = "127.0.0.1:0".parse().unwrap();
/// let listeners = Listeners::bind(Addresses { grpc: any, http: any, ui: any }).await?;
/// assert_ne!(listeners.addresses()?.ui.port(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Listeners {
    grpc: TcpListener,
    http: TcpListener,
    ui: TcpListener,
}

impl Listeners {
    /// Binds the three addresses.
    pub async fn bind(addresses: Addresses) -> std::io::Result<Self> {
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("binding {addr}: {e}")))
        };
        Ok(Self {
            grpc: bind(addresses.grpc).await?,
            http: bind(addresses.http).await?,
            ui: bind(addresses.ui).await?,
        })
    }

    /// The addresses bound (the ports chosen, for port 0).
    pub fn addresses(&self) -> std::io::Result<Addresses> {
        Ok(Addresses {
            grpc: self.grpc.local_addr()?,
            http: self.http.local_addr()?,
            ui: self.ui.local_addr()?,
        })
    }
}

impl Viewer {
    /// Serves OTLP over gRPC and HTTP and the UI on `listeners` until
    /// `shutdown` completes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use throughline_viewer::{Addresses, Listeners, Viewer};
    ///
    /// let any = "127.0.0.1:0".parse().unwrap();
    /// let listeners = Listeners::bind(Addresses { grpc: any, http: any, ui: any }).await?;
    /// let ui = listeners.addresses()?.ui;
    /// let viewer = Viewer::default();
    /// viewer.serve(listeners, async {}).await?; // stops at once here
    /// # let _ = ui; Ok(()) }
    /// ```
    pub async fn serve(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let grpc =
            tonic::transport::Server::builder().add_routes(self.grpc_routes()).serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listeners.grpc),
                wait(stopped.clone()),
            );
        let http = axum::serve(listeners.http, self.otlp_http_router())
            .with_graceful_shutdown(wait(stopped.clone()));
        let ui = axum::serve(listeners.ui, self.router()).with_graceful_shutdown(wait(stopped));
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
            Ok::<(), std::io::Error>(())
        };
        let (grpc, http, ui, _) = tokio::join!(grpc, http, ui, signal);
        grpc.map_err(std::io::Error::other)?;
        http?;
        ui?;
        Ok(())
    }
}
