//! The address of the connection's peer, as the server put it in the
//! request's extensions.

use std::net::SocketAddr;

use http::Extensions;

/// The peer address: a `SocketAddr` extension (what a hyper service can
/// insert), or, with the `axum` feature, axum's `ConnectInfo<SocketAddr>`
/// (from `into_make_service_with_connect_info`).
pub(crate) fn peer_address(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(addr) = extensions.get::<SocketAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}
