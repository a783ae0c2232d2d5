//! How many times a request was sent before.

/// The number of earlier sends of a request, as a request extension: retry
/// layers set it, HTTP client instrumentation reads it for
/// `http.request.resend_count`.
///
/// ```
/// use throughline_core::ResendCount;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(ResendCount(2));
/// assert_eq!(request.extensions().get::<ResendCount>(), Some(&ResendCount(2)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResendCount(pub u32);
