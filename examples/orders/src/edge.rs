//! Whom orders believes: it is the edge of the system, the one service
//! outside callers reach, so it chooses its trust policy explicitly.

use std::net::IpAddr;

use throughline::tower::server::TrustPolicy;

/// Which callers' trace context orders continues (`ORDERS_TRUST`).
///
/// A trusted caller's context becomes the parent of orders' span, its
/// sampled flag is obeyed, its baggage is kept and forwarded downstream,
/// and its `Forwarded`/`X-Forwarded-*` headers name the client. Anyone else
/// starts a new trace linked to theirs, and cannot choose the trace id, force
/// sampling, plant baggage or claim an address.
///
/// ```
/// use orders::edge::Edge;
///
/// assert!(Edge::Private.trusts("10.1.2.3".parse().unwrap()));
/// assert!(Edge::Private.trusts("127.0.0.1".parse().unwrap()));
/// assert!(!Edge::Private.trusts("203.0.113.9".parse().unwrap()));
/// assert!(!Edge::Public.trusts("127.0.0.1".parse().unwrap()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Edge {
    /// `private`, the default: callers on loopback and the private ranges
    /// (10/8, 172.16/12, 192.168/16, fc00::/7) are this system's own
    /// services or its internal load balancer; the rest are public. Right
    /// when outside traffic reaches orders only through a proxy on a private
    /// address, which sets `X-Forwarded-For` itself.
    #[default]
    Private,
    /// `public`: no caller is trusted. Right when orders is reachable
    /// directly from outside, or behind a load balancer that passes on
    /// whatever trace headers the outside sent.
    Public,
}

impl Edge {
    /// Reads `ORDERS_TRUST` (`private` or `public`).
    pub fn from_var(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("private") => Ok(Self::Private),
            Some("public") => Ok(Self::Public),
            Some(other) => Err(format!("ORDERS_TRUST={other:?} is neither \"private\" nor \"public\"")),
        }
    }

    /// Whether a caller at `ip` is believed.
    pub fn trusts(self, ip: IpAddr) -> bool {
        match self {
            Self::Public => false,
            Self::Private => match ip {
                IpAddr::V4(ip) => ip.is_loopback() || ip.is_private(),
                IpAddr::V6(ip) => {
                    ip.is_loopback()
                        || (ip.segments()[0] & 0xfe00) == 0xfc00
                        || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private())
                }
            },
        }
    }

    /// The server layer's policy: by the peer address of the connection.
    pub fn policy(self) -> TrustPolicy {
        match self {
            Self::Public => TrustPolicy::public(),
            Self::Private => TrustPolicy::trusted_peers(move |ip| self.trusts(ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_trusted_and_their_neighbours_are_not() {
        for ip in ["172.16.0.1", "172.31.255.255", "192.168.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"] {
            assert!(Edge::Private.trusts(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["172.32.0.1", "192.169.0.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!Edge::Private.trusts(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_variable_names_itself_when_wrong() {
        assert_eq!(Edge::from_var(None), Ok(Edge::Private));
        assert_eq!(Edge::from_var(Some("public")), Ok(Edge::Public));
        assert!(Edge::from_var(Some("everyone")).unwrap_err().contains("ORDERS_TRUST"));
    }
}
