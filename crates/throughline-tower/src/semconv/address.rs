//! `server.address`, `server.port` and `client.address` from the request,
//! reading the forwarding headers a proxy adds.

use http::request::Parts;
use http::{HeaderMap, HeaderName, header};

// Named once: a lookup by `&str` parses the name on every request.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The host and port the client addressed, in order of preference: the
/// `Forwarded` header's `host`, `X-Forwarded-Host`, the request target's
/// authority (HTTP/2 `:authority`, or an absolute-form target), then `Host`.
///
/// ```
/// use http::Request;
/// use throughline_tower::semconv::server_address;
///
/// let (parts, ()) = Request::get("/users").header("host", "orders.internal:8080").body(())?.into_parts();
/// assert_eq!(server_address(&parts), Some(("orders.internal", Some(8080))));
/// # Ok::<(), http::Error>(())
/// ```
pub fn server_address(parts: &Parts) -> Option<(&str, Option<u16>)> {
    let authority = forwarded_param(&parts.headers, "host")
        .or_else(|| first_list_item(&parts.headers, &X_FORWARDED_HOST))
        .or_else(|| request_authority(parts))?;
    let (host, port) = split_host_port(authority);
    (!host.is_empty()).then_some((host, port))
}

fn request_authority(parts: &Parts) -> Option<&str> {
    parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// The host and port the request itself names, ignoring what a proxy
/// added: the request target's authority, then `Host`. For a caller that is
/// not trusted, whose `Forwarded` and `X-Forwarded-*` headers say whatever
/// it likes.
///
/// ```
/// use http::Request;
/// use throughline_tower::semconv::direct_server_address;
///
/// let (parts, ()) = Request::get("/").header("host", "orders:8080").header("x-forwarded-host", "evil.example").body(())?.into_parts();
/// assert_eq!(direct_server_address(&parts), Some(("orders", Some(8080))));
/// # Ok::<(), http::Error>(())
/// ```
pub fn direct_server_address(parts: &Parts) -> Option<(&str, Option<u16>)> {
    let (host, port) = split_host_port(request_authority(parts)?);
    (!host.is_empty()).then_some((host, port))
}

/// The client's address as a proxy reported it: the `Forwarded` header's
/// `for`, else the first `X-Forwarded-For` entry. `None` when no proxy said;
/// the caller then uses the peer address of the connection.
///
/// ```
/// use http::Request;
/// use throughline_tower::semconv::forwarded_client_address;
///
/// let (parts, ()) = Request::get("/").header("forwarded", "for=\"[2001:db8::1]:443\";proto=https").body(())?.into_parts();
/// assert_eq!(forwarded_client_address(&parts), Some("2001:db8::1"));
/// # Ok::<(), http::Error>(())
/// ```
pub fn forwarded_client_address(parts: &Parts) -> Option<&str> {
    let address = forwarded_param(&parts.headers, "for")
        .or_else(|| first_list_item(&parts.headers, &X_FORWARDED_FOR))?;
    let (host, _) = split_host_port(address);
    (!host.is_empty()).then_some(host)
}

/// The scheme a proxy reported (`Forwarded` `proto`, `X-Forwarded-Proto`).
pub fn forwarded_scheme(parts: &Parts) -> Option<&str> {
    forwarded_param(&parts.headers, "proto").or_else(|| first_list_item(&parts.headers, &X_FORWARDED_PROTO))
}

/// The value of `name` in the first element of the first `Forwarded` header
/// (RFC 7239), unquoted.
fn forwarded_param<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let first_element = headers.get(header::FORWARDED)?.to_str().ok()?.split(',').next()?;
    first_element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().trim_matches('"'))
    })
}

fn first_list_item<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let item = headers.get(name)?.to_str().ok()?.split(',').next()?.trim();
    (!item.is_empty()).then_some(item)
}

/// Splits `host[:port]`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match authority.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => (authority, None),
        Some((host, port)) => (host, port.parse().ok()),
        None => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::get("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn splits_hosts_and_ports() {
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(split_host_port("example.com:81"), ("example.com", Some(81)));
        assert_eq!(split_host_port("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("host:notaport"), ("host", None));
    }

    #[test]
    fn forwarding_headers_win_over_host() {
        let p = parts(&[("host", "internal:80"), ("x-forwarded-host", "shop.example, proxy")]);
        assert_eq!(server_address(&p), Some(("shop.example", None)));
        let p = parts(&[("x-forwarded-for", "203.0.113.7, 10.0.0.1")]);
        assert_eq!(forwarded_client_address(&p), Some("203.0.113.7"));
    }

    #[test]
    fn malformed_forwarding_headers_are_ignored() {
        let p = parts(&[("forwarded", ";;=,"), ("x-forwarded-for", " ")]);
        assert_eq!(forwarded_client_address(&p), None);
        assert_eq!(server_address(&p), None);
    }
}
