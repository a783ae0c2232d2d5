//! The OTLP/HTTP exporter's client: hyper over hyper-rustls, keeping why its
//! last request failed. The exporter reports every transport failure as
//! "network error"; an unknown certificate authority, an expired
//! certificate or a refused connection deserve their own words.

use std::sync::{Arc, Mutex};

#[cfg(feature = "http")]
pub(crate) use client::HttpClient;

/// Why the last request failed, shared with the export worker that reports it.
pub(crate) type LastError = Arc<Mutex<Option<String>>>;

/// Takes the reason recorded since the last call, if any.
pub(crate) fn take(last_error: &LastError) -> Option<String> {
    last_error.lock().unwrap_or_else(|p| p.into_inner()).take()
}

#[cfg(feature = "http")]
mod client {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use bytes::Bytes;
    use http::{Request, Response};
    use opentelemetry_http::HttpError;
    use opentelemetry_http::hyper::HyperClient;

    use super::LastError;

    type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

    /// A hyper client that remembers its last transport error.
    #[derive(Debug, Clone)]
    pub(crate) struct HttpClient {
        inner: Arc<HyperClient<Connector>>,
        last_error: LastError,
    }

    impl HttpClient {
        pub(crate) fn new(inner: HyperClient<Connector>) -> Self {
            Self { inner: Arc::new(inner), last_error: LastError::default() }
        }

        pub(crate) fn last_error(&self) -> LastError {
            self.last_error.clone()
        }
    }

    type Sent<'a> = Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'a>>;

    // The trait is declared with `async_trait`; this is its expansion, written
    // out rather than taking the macro as a dependency for one impl.
    impl opentelemetry_http::HttpClient for HttpClient {
        fn send_bytes<'life0, 'async_trait>(&'life0 self, request: Request<Bytes>) -> Sent<'async_trait>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let sent = self.inner.send_bytes(request).await;
                if let Err(error) = &sent {
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(chain(error.as_ref()));
                }
                sent
            })
        }
    }

    /// An error and its sources, `outer: inner: innermost`, each said once.
    fn chain(error: &(dyn std::error::Error + 'static)) -> String {
        let mut said: Vec<String> = Vec::new();
        let mut next = Some(error);
        while let Some(error) = next {
            let text = error.to_string();
            if !said.iter().any(|s| s.contains(&text)) {
                said.push(text);
            }
            next = error.source();
        }
        said.join(": ")
    }
}
