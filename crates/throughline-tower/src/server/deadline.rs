//! The request's deadline: the caller's remaining budget, read from a
//! header for trusted callers only, capped by the server's own limit.

use std::time::Duration;

use http::HeaderName;
use http::request::Parts;
use throughline_core::{DEADLINE_HEADER, Deadline};

use super::trust::Trust;

/// Where a request's deadline comes from.
#[derive(Clone, Debug)]
pub(crate) struct Deadlines {
    /// The header a trusted caller's budget is read from, if any.
    pub(crate) header: Option<HeaderName>,
    /// The longest deadline a request gets: a longer budget is cut to it,
    /// and a request without one gets it.
    pub(crate) max: Option<Duration>,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self { header: Some(DEADLINE_HEADER), max: None }
    }
}

impl Deadlines {
    /// The deadline of the request of `parts`. A public caller cannot set it:
    /// a budget from outside would let anyone cut every downstream call
    /// short. A malformed value is ignored. `trust` is asked only when the
    /// header is there.
    pub(crate) fn of(&self, parts: &Parts, trust: impl FnOnce() -> Trust) -> Option<Deadline> {
        let own = self.max.map(Deadline::after);
        let Some(value) = self.header.as_ref().and_then(|header| parts.headers.get(header)) else {
            return own;
        };
        if trust() == Trust::Public {
            return own;
        }
        Deadline::earliest(own, Deadline::from_millis_header(value).ok())
    }
}
