//! `error.type` for a failed call: a low-cardinality kind read from the
//! error's chain of sources.

use std::error::Error;
use std::io;

/// `error.type` when the call timed out.
pub const TIMEOUT: &str = "timeout";
/// `error.type` when no connection could be made (refused, unreachable,
/// name resolution).
pub const CONNECT: &str = "connect";
/// `error.type` when the connection broke during the exchange.
pub const CONNECTION_RESET: &str = "connection_reset";

/// The kind of `error`, from the first error in its chain of sources that
/// says: an `io::Error`'s kind, or a message naming a timeout. `None` when
/// nothing in the chain says; callers then use the error's type name
/// ([`crate::semconv::error_type_of`]).
///
/// ```
/// use std::io;
/// use throughline_tower::client::error_kind;
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert_eq!(error_kind(&refused), Some("connect"));
/// assert_eq!(error_kind(&io::Error::from(io::ErrorKind::TimedOut)), Some("timeout"));
/// ```
pub fn error_kind(error: &(dyn Error + 'static)) -> Option<&'static str> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<io::Error>()
            && let Some(kind) = io_kind(io.kind())
        {
            return Some(kind);
        }
        // tower's and tokio's `Elapsed` say so in their message.
        let message = error.to_string();
        if message.contains("timed out") || message.contains("deadline has elapsed") {
            return Some(TIMEOUT);
        }
        next = error.source();
    }
    None
}

fn io_kind(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        TimedOut => TIMEOUT,
        ConnectionRefused | AddrNotAvailable | NotConnected | HostUnreachable | NetworkUnreachable => CONNECT,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => CONNECTION_RESET,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_kind_is_found_down_the_chain() {
        let error = Wrapper(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(error_kind(&error), Some(CONNECTION_RESET));
        assert_eq!(error_kind(&Wrapper(io::Error::other("boom"))), None);
    }
}
