//! The server span: created with the method as its name so no allocation is
//! made before the sampler has spoken, and filled only when it records.

use http::header::USER_AGENT;
use http::request::Parts;
use opentelemetry::{KeyValue, StringValue};

use super::extract::Incoming;
use super::layer::Config;
use super::peer::peer_address;
use super::request_span::RequestSpan;
use super::trust::Trust;
use crate::semconv::{
    HttpAttributes, HttpMethod, Role, ValueLength, direct_server_address, forwarded_client_address,
    forwarded_scheme, protocol_version, server_address,
};
use crate::span_start::SpanStart;

/// The tracing target of the server span, for filters (`RUST_LOG`).
pub const TARGET: &str = "throughline_tower::server";

/// One callsite per method: a span name is static in `tracing`, and a
/// static name costs nothing. The route is added once the span is known to
/// record.
macro_rules! span_named {
    ($method:expr, $($name:literal)|*) => {
        match $method {
            $($name => tracing::info_span!(target: TARGET, $name, otel.kind = SERVER),)*
            _ => tracing::info_span!(target: TARGET, "HTTP", otel.kind = SERVER),
        }
    };
}

/// What `tracing-opentelemetry` reads from `otel.kind` as `SpanKind::Server`.
const SERVER: &str = "server";

/// The server span, decided by the head sampler first, else parented (or
/// linked) as the trust policy said and started so that the sampler has
/// decided.
pub(crate) fn start(method: &HttpMethod<'_>, incoming: Incoming, start: &SpanStart) -> RequestSpan {
    incoming.start(start, method.span_name(), || {
        span_named!(
            method.span_name(),
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" | "CONNECT" | "TRACE"
        )
    })
}

/// `http` or `https`, as the request says, or a proxy in front of a trusted
/// caller.
pub(crate) fn scheme(parts: &Parts, trust: Trust) -> &'static str {
    let forwarded = || if trust == Trust::Trusted { forwarded_scheme(parts) } else { None };
    match parts.uri.scheme_str().or_else(forwarded) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// The attributes of the request, for a span that records.
pub(crate) fn request_attributes(
    config: &Config,
    parts: &Parts,
    method: &HttpMethod<'_>,
    scheme: &'static str,
    route: Option<&StringValue>,
    trust: Trust,
) -> Vec<KeyValue> {
    // Forwarding headers are believed only from a trusted caller (a proxy of
    // this system); anyone else could claim any address.
    let trusted = trust == Trust::Trusted;
    let mut attributes = HttpAttributes::with_capacity(Role::Server, config.stability, 12);
    attributes.method(method);
    attributes.scheme(scheme);
    // Cut before the redaction scans it.
    let query = parts.uri.query().map(|query| config.redaction.redact(ValueLength::from_env().cap(query)));
    attributes.path_and_query(parts.uri.path(), query.as_deref());
    if let Some(route) = route {
        attributes.route(route.clone());
    }
    let server = if trusted { server_address(parts) } else { direct_server_address(parts) };
    if let Some((host, port)) = server {
        let default_port = if scheme == "https" { 443 } else { 80 };
        attributes.server_address(host, Some(port.unwrap_or(default_port)));
    }
    let client = trusted
        .then(|| forwarded_client_address(parts))
        .flatten()
        .map(str::to_owned)
        .or_else(|| peer_address(&parts.extensions).map(|peer| peer.ip().to_string()));
    if let Some(client) = client {
        attributes.client_address(client);
    }
    attributes.protocol_version(protocol_version(parts.version));
    if let Some(user_agent) = parts.headers.get(USER_AGENT).and_then(|value| value.to_str().ok()) {
        attributes.user_agent(user_agent);
    }
    for header in config.request_headers.attributes(&parts.headers) {
        attributes.push(header);
    }
    attributes.into_vec()
}
