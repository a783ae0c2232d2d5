//! [`ResponseFuture`]: waits for the inner service's response head.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use pin_project_lite::pin_project;
use throughline_core::{Deadline, deadline};

use super::body::ResponseBody;
use super::in_flight::InFlight;
use super::request_span::RequestSpan;

pin_project! {
    /// The response future of [`HttpServer`](super::HttpServer). Polls the
    /// inner future inside the server span, with the request's deadline as
    /// the current one, so the handler's spans are its children and its
    /// calls send what is left; hands the request on to the [`ResponseBody`].
    pub struct ResponseFuture<F> {
        // `None` when the request's deadline had passed on arrival.
        #[pin]
        inner: Option<F>,
        in_flight: Option<InFlight>,
        catch_panic: bool,
        deadline: Option<Deadline>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        in_flight: Option<InFlight>,
        catch_panic: bool,
        deadline: Option<Deadline>,
    ) -> Self {
        Self { inner: Some(inner), in_flight, catch_panic, deadline }
    }

    /// A request that arrived with its deadline passed: answered `504`.
    pub(crate) fn expired(in_flight: Option<InFlight>) -> Self {
        Self { inner: None, in_flight, catch_panic: false, deadline: None }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let mut response = Response::new(());
            *response.status_mut() = StatusCode::GATEWAY_TIMEOUT;
            let mut in_flight = this.in_flight.take();
            if let Some(in_flight) = &mut in_flight {
                in_flight.on_response(&mut response);
            }
            return Poll::Ready(Ok(response.map(|()| ResponseBody::empty(in_flight))));
        };
        let polled = {
            let _entered = this.in_flight.as_ref().and_then(InFlight::span).map(RequestSpan::enter);
            // Recorded whether or not it is caught; unwinding is only stopped when asked.
            catch_unwind(AssertUnwindSafe(|| deadline::sync_scope(*this.deadline, || inner.poll(cx))))
        };
        let output = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => output,
            Err(payload) => {
                let Some(mut in_flight) = this.in_flight.take() else { resume_unwind(payload) };
                in_flight.on_panic(payload.as_ref());
                if !*this.catch_panic {
                    in_flight.finish();
                    resume_unwind(payload);
                }
                in_flight.on_panic_response();
                let mut response = Response::new(ResponseBody::empty(Some(in_flight)));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return Poll::Ready(Ok(response));
            }
        };
        let mut in_flight = this.in_flight.take();
        match output {
            Ok(mut response) => {
                if let Some(in_flight) = &mut in_flight {
                    in_flight.on_response(&mut response);
                }
                // An unrecorded, unmeasured request is over: its body goes out untouched.
                let in_flight = match in_flight {
                    Some(in_flight) if !in_flight.follows_the_body() => {
                        in_flight.finish();
                        None
                    }
                    in_flight => in_flight,
                };
                Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, in_flight))))
            }
            Err(error) => {
                if let Some(mut in_flight) = in_flight {
                    in_flight.on_error(&error);
                    in_flight.finish();
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("in_flight", &self.in_flight.is_some()).finish_non_exhaustive()
    }
}
