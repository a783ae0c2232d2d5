//! What an incoming trace context may do: the trust policy.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;

use super::peer::peer_address;

/// How much an incoming trace context is believed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Trust {
    /// The caller is part of this system: its context becomes the parent of
    /// the server span, its sampled flag is obeyed and its baggage kept.
    #[default]
    Trusted,
    /// The caller is anyone: the server span starts a new trace and links to
    /// the caller's context; its sampled flag and its baggage are ignored.
    Public,
}

type Decide = dyn Fn(&Parts) -> Trust + Send + Sync;

/// Decides the [`Trust`] of each request.
///
/// ```
/// use http::request::Parts;
/// use throughline_tower::server::{Trust, TrustPolicy};
///
/// // Everything is trusted but the public API.
/// let by_path = TrustPolicy::predicate(|parts: &Parts| {
///     if parts.uri.path().starts_with("/public/") { Trust::Public } else { Trust::Trusted }
/// });
///
/// // Only callers on the private network are trusted.
/// let by_peer = TrustPolicy::trusted_peers(|ip| match ip {
///     std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
///     std::net::IpAddr::V6(v6) => v6.is_loopback(),
/// });
///
/// // Only callers that carry a header set by the gateway.
/// let by_header = TrustPolicy::predicate(|parts: &Parts| {
///     if parts.headers.contains_key("x-internal-caller") { Trust::Trusted } else { Trust::Public }
/// });
/// # let _ = (by_path, by_peer, by_header);
/// ```
#[derive(Clone, Default)]
pub struct TrustPolicy(Policy);

#[derive(Clone, Default)]
enum Policy {
    #[default]
    Trusted,
    Public,
    Decide(Arc<Decide>),
}

impl TrustPolicy {
    /// Every caller is trusted (the default).
    pub fn trusted() -> Self {
        Self(Policy::Trusted)
    }

    /// Every caller is public: the service is an edge.
    pub fn public() -> Self {
        Self(Policy::Public)
    }

    /// `decide` chooses per request, from its method, target, headers and
    /// extensions.
    pub fn predicate(decide: impl Fn(&Parts) -> Trust + Send + Sync + 'static) -> Self {
        Self(Policy::Decide(Arc::new(decide)))
    }

    /// Trusted when the connection's peer address passes `trusted`; public
    /// when it does not, or when the peer address is unknown (see
    /// [`crate::server`] for where it is read from).
    pub fn trusted_peers(trusted: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        Self::predicate(move |parts| match peer_address(&parts.extensions) {
            Some(peer) if trusted(peer.ip()) => Trust::Trusted,
            _ => Trust::Public,
        })
    }

    /// The trust for this request.
    pub fn decide(&self, parts: &Parts) -> Trust {
        match &self.0 {
            Policy::Trusted => Trust::Trusted,
            Policy::Public => Trust::Public,
            Policy::Decide(decide) => decide(parts),
        }
    }
}

impl fmt::Debug for TrustPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Policy::Trusted => f.write_str("TrustPolicy::Trusted"),
            Policy::Public => f.write_str("TrustPolicy::Public"),
            Policy::Decide(_) => f.write_str("TrustPolicy::Predicate"),
        }
    }
}
