//! What the layers need from a request: a copy for another attempt, whether
//! another attempt is safe, and a place for the deadline.
//!
//! Implemented for `http::Request<B>` (HTTP clients and servers, and gRPC,
//! which tonic carries over `http::Request`), for [`Attempt`] (the plain async
//! API) and for `()`. Implement it for a request type of your own in a few lines.
//!
//! # The HTTP rules
//!
//! An HTTP request is retried only when it is safe to send twice: its method
//! is idempotent (`GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`, `TRACE`, RFC 9110
//! §9.2.2) or it carries an `Idempotency-Key` header. Its body must be
//! replayable: a `Clone` body, or a [`crate::ReplayBody`] that buffered it.
//!
//! ```
//! use throughline_resilience::ResilientRequest;
//!
//! let get = http::Request::get("http://inventory/items/7").body(String::new())?;
//! assert!(get.is_idempotent());
//! let post = http::Request::post("http://payments/charges").body(String::from("{}"))?;
//! assert!(!post.is_idempotent(), "a POST is never retried by default");
//! let keyed = http::Request::post("http://payments/charges")
//!     .header("idempotency-key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
//!     .body(String::from("{}"))?;
//! assert!(keyed.is_idempotent());
//! # Ok::<(), http::Error>(())
//! ```

use http::Method;

use crate::deadline::Deadline;

/// The header that makes a non-idempotent request safe to retry
/// (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A request the resilience layers can carry, copy and judge.
pub trait ResilientRequest: Sized {
    /// Whether the attempt span carries `http.request.resend_count` (HTTP) or
    /// only the attempt number.
    const IS_HTTP: bool = false;

    /// A copy to send as another attempt, or `None` if the request cannot be
    /// replayed (a body that was not buffered).
    fn try_clone(&self) -> Option<Self>;

    /// Whether sending the request twice is safe.
    fn is_idempotent(&self) -> bool {
        true
    }

    /// The deadline the request carries, if any.
    fn deadline(&self) -> Option<Deadline>;

    /// Sets the deadline the request carries, for the layers below and the
    /// client adapters (which send it as `grpc-timeout` or a header).
    fn set_deadline(&mut self, deadline: Deadline);

    /// Records how many times this request was sent before (0 on the first
    /// attempt), for the client instrumentation's `http.request.resend_count`.
    fn set_resend_count(&mut self, resends: u32);
}

pub use throughline_core::ResendCount;

/// A body that can be sent again. Every `Clone` body is one; a non-`Clone`
/// body becomes one through [`crate::ReplayBody`], up to a size limit.
pub trait ReplayableBody: Sized {
    /// A copy of the body from its beginning, or `None` if it cannot be replayed.
    fn try_replay(&self) -> Option<Self>;
}

impl<B: Clone> ReplayableBody for B {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// Whether an HTTP method is idempotent (RFC 9110 §9.2.2).
pub fn is_idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

impl<B: ReplayableBody> ResilientRequest for http::Request<B> {
    const IS_HTTP: bool = true;

    fn try_clone(&self) -> Option<Self> {
        let body = self.body().try_replay()?;
        let mut copy = http::Request::new(body);
        *copy.method_mut() = self.method().clone();
        *copy.uri_mut() = self.uri().clone();
        *copy.version_mut() = self.version();
        *copy.headers_mut() = self.headers().clone();
        *copy.extensions_mut() = self.extensions().clone();
        Some(copy)
    }

    fn is_idempotent(&self) -> bool {
        is_idempotent_method(self.method()) || self.headers().contains_key(IDEMPOTENCY_KEY)
    }

    fn deadline(&self) -> Option<Deadline> {
        self.extensions().get::<Deadline>().copied()
    }

    fn set_deadline(&mut self, deadline: Deadline) {
        self.extensions_mut().insert(deadline);
    }

    fn set_resend_count(&mut self, resends: u32) {
        if resends > 0 || self.extensions().get::<ResendCount>().is_some() {
            self.extensions_mut().insert(ResendCount(resends));
        }
    }
}

/// What a closure run by the plain async API ([`crate::Policy::call_with`])
/// learns about its attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    deadline: Option<Deadline>,
}

impl Attempt {
    /// The attempt number, from 1.
    pub fn number(&self) -> u32 {
        self.number.max(1)
    }

    /// Whether this attempt is a retry.
    pub fn is_retry(&self) -> bool {
        self.number > 1
    }

    /// The tighter of the call's deadline and this attempt's timeout: pass it
    /// on to what the closure calls (a database statement timeout, a gRPC deadline).
    pub fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }
}

impl ResilientRequest for Attempt {
    fn try_clone(&self) -> Option<Self> {
        Some(*self)
    }

    fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = Some(deadline);
    }

    fn set_resend_count(&mut self, resends: u32) {
        self.number = resends + 1;
    }
}

impl ResilientRequest for () {
    fn try_clone(&self) -> Option<Self> {
        Some(())
    }

    fn deadline(&self) -> Option<Deadline> {
        None
    }

    fn set_deadline(&mut self, _: Deadline) {}

    fn set_resend_count(&mut self, _: u32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_method_uri_headers_extensions_and_body() {
        let mut request =
            http::Request::put("http://a/b").header("x-k", "v").body(String::from("body")).unwrap();
        request.extensions_mut().insert(ResendCount(0));
        let copy = request.try_clone().unwrap();
        assert_eq!(
            (copy.method(), copy.uri(), copy.body()),
            (&Method::PUT, request.uri(), &String::from("body"))
        );
        assert_eq!(copy.headers()["x-k"], "v");
        assert_eq!(copy.extensions().get::<ResendCount>(), Some(&ResendCount(0)));
    }

    #[test]
    fn only_idempotent_methods_or_an_idempotency_key_are_safe() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::DELETE, Method::TRACE]
        {
            assert!(http::Request::builder().method(method).body(()).unwrap().is_idempotent());
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!http::Request::builder().method(method).body(()).unwrap().is_idempotent());
        }
        let keyed = http::Request::patch("/").header("Idempotency-Key", "k").body(()).unwrap();
        assert!(keyed.is_idempotent());
    }

    #[test]
    fn the_resend_count_is_written_from_the_first_resend_on() {
        let mut request = http::Request::get("/").body(()).unwrap();
        request.set_resend_count(0);
        assert!(request.extensions().get::<ResendCount>().is_none());
        request.set_resend_count(2);
        assert_eq!(request.extensions().get::<ResendCount>(), Some(&ResendCount(2)));
    }
}
