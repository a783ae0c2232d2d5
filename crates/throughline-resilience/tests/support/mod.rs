//! What several test binaries share.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use tower::{Service, service_fn};

/// A service answering each request with the next of `statuses`, then 200.
pub(crate) fn status_server(
    statuses: Vec<u16>,
) -> impl Service<Request<String>, Response = Response<String>, Error = std::io::Error> + Clone {
    let next = Arc::new(Mutex::new(statuses.into_iter()));
    service_fn(move |_: Request<String>| {
        let status = next.lock().unwrap().next().unwrap_or(200);
        std::future::ready(Ok(Response::builder().status(status).body(String::new()).unwrap()))
    })
}
