//! throughline-viewer as the order system's collector: started in this
//! process, its spans read back as the receiver's, and a headless Chromium
//! that loads its pages as a user's browser would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use throughline::testing::{Protocol, ReceivedSpan};
use throughline_viewer::{Addresses, Listeners, TraceId, Viewer};

/// A viewer serving OTLP and its UI on 127.0.0.1 until dropped.
#[derive(Debug)]
pub struct RunningViewer {
    /// The store and everything that reads it.
    pub viewer: Viewer,
    /// Where it listens.
    pub addresses: Addresses,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningViewer {
    /// Starts the viewer: OTLP on ephemeral ports, the UI on `ui` (port 0
    /// for any).
    pub async fn start(ui: SocketAddr) -> Result<Self, String> {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let listeners = Listeners::bind(Addresses { grpc: any, http: any, ui })
            .await
            .map_err(|e| format!("viewer: {e}"))?;
        let addresses = listeners.addresses().map_err(|e| e.to_string())?;
        let viewer = Viewer::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(viewer.clone().serve(listeners, async move {
            let _ = stopped.await;
        }));
        Ok(Self { viewer, addresses, stop: Some(stop), served: Some(served) })
    }

    /// The UI's address, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addresses.ui)
    }

    /// The page of one trace.
    pub fn trace_url(&self, trace_id: &str) -> String {
        format!("{}/trace/{trace_id}", self.url())
    }

    /// One trace's spans, shaped as the OTLP receiver's, so the waterfall
    /// and the checks written for the receiver read them.
    pub fn spans(&self, trace_id: &str) -> Vec<ReceivedSpan> {
        let Ok(id) = trace_id.parse::<TraceId>() else { return Vec::new() };
        let (spans, _) = self.viewer.trace(&id).unwrap_or_default();
        spans
            .into_iter()
            .map(|s| ReceivedSpan {
                resource: s.origin.resource.attributes.clone(),
                scope: s.origin.scope.clone(),
                span: s.span,
                // The viewer does not record the transport a span came by.
                protocol: Protocol::Grpc,
            })
            .collect()
    }

    /// Waits until one trace's spans satisfy `complete`, or `within` passed.
    pub async fn trace(
        &self,
        trace_id: &str,
        within: Duration,
        complete: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let ready = || complete(&self.spans(trace_id));
        self.viewer.wait_for(within, ready).await;
        self.spans(trace_id)
    }

    /// Serves until Ctrl-C.
    pub async fn serve_until_ctrl_c(mut self) {
        let _ = tokio::signal::ctrl_c().await;
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.abort();
        }
    }
}

impl Drop for RunningViewer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Headless Chromium (Debian's `chromium`, or `CHROMIUM`), one process per page.
#[derive(Debug)]
pub struct Browser {
    program: PathBuf,
    profile: tempfile::TempDir,
}

/// How long one page may take to load and render.
const PAGE_BOUND: Duration = Duration::from_secs(60);

impl Browser {
    /// Finds the browser on the PATH.
    pub fn find() -> Result<Self, String> {
        let program = match std::env::var_os("CHROMIUM") {
            Some(program) => PathBuf::from(program),
            None => ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .find_map(|name| on_path(name))
                .ok_or(
                "no `chromium` on the PATH: install Debian's `chromium` (cargo xtask ci does as root)",
            )?,
        };
        let profile = tempfile::tempdir().map_err(|e| format!("a browser profile directory: {e}"))?;
        Ok(Self { program, profile })
    }

    async fn run(&self, args: &[String]) -> Result<Vec<u8>, String> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .kill_on_drop(true);
        let output = tokio::time::timeout(PAGE_BOUND, command.output())
            .await
            .map_err(|_| format!("chromium did not finish within {PAGE_BOUND:?}: {args:?}"))?
            .map_err(|e| format!("chromium: {e}"))?;
        if !output.status.success() {
            return Err(format!("chromium {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        Ok(output.stdout)
    }

    /// The page's DOM once loaded, as the browser serialises it.
    pub async fn dom(&self, url: &str) -> Result<String, String> {
        let out = self.run(&["--dump-dom".to_owned(), url.to_owned()]).await?;
        String::from_utf8(out).map_err(|e| format!("the DOM of {url} is not UTF-8: {e}"))
    }

    /// A PNG of the page, `width` pixels wide and `height` high.
    pub async fn screenshot(&self, url: &str, file: &Path, width: u32, height: u32) -> Result<(), String> {
        self.run(&[
            format!("--screenshot={}", file.display()),
            format!("--window-size={width},{height}"),
            url.to_owned(),
        ])
        .await?;
        let size = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
        if size == 0 { Err(format!("{} is empty", file.display())) } else { Ok(()) }
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The elements of a serialised DOM that open with `<tag` and carry
/// `class` among their classes: each element's opening tag.
pub fn elements<'a>(dom: &'a str, tag: &str, class: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    dom.match_indices(&open)
        .filter_map(|(at, _)| {
            let end = dom[at..].find('>')? + at;
            let element = &dom[at..=end];
            attribute(element, "class").is_some_and(|c| c.split(' ').any(|c| c == class)).then_some(element)
        })
        .collect()
}

/// An attribute's value in an opening tag.
pub fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = element.find(&key)? + key.len();
    let end = element[start..].find('"')? + start;
    Some(&element[start..end])
}
