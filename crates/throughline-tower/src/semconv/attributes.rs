//! Writes HTTP span attributes under the stable names, and under the old
//! names too when `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup`.

// The old names are deprecated upstream; writing them is the point of `http/dup`.
#![allow(deprecated)]

use opentelemetry::{KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute as stable;

use super::method::HttpMethod;
use super::outcome::Role;
use super::stability::SemconvStability;
use super::value_length::ValueLength;

/// The names that preceded the stable HTTP conventions (semantic conventions
/// before 1.21), emitted only with [`SemconvStability::Duplicate`].
pub mod old {
    pub use opentelemetry_semantic_conventions::attribute::{
        HTTP_CLIENT_IP, HTTP_FLAVOR, HTTP_METHOD, HTTP_SCHEME, HTTP_STATUS_CODE, HTTP_TARGET, HTTP_URL,
        HTTP_USER_AGENT, NET_HOST_NAME, NET_HOST_PORT, NET_PEER_NAME, NET_PEER_PORT,
    };

    /// `http.resend_count`, the name before `http.request.resend_count`
    /// (semantic conventions 1.20); the crate no longer lists it.
    pub const HTTP_RESEND_COUNT: &str = "http.resend_count";
}

/// Collects the attributes of one HTTP span.
///
/// One method per concept, each writing the stable name and, with
/// [`SemconvStability::Duplicate`], the old one; the [`Role`] decides the old
/// names that differ between sides (`net.host.*` on a server, `net.peer.*`
/// on a client).
///
/// Every string taken from the request is cut to the [`ValueLength`] of the
/// process (4096 characters, or `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`); set
/// another with [`with_value_length`](Self::with_value_length).
///
/// ```
/// use http::Method;
/// use throughline_tower::semconv::{HttpAttributes, HttpMethod, Role, SemconvStability};
///
/// let mut attributes = HttpAttributes::new(Role::Server, SemconvStability::Duplicate);
/// attributes.method(&HttpMethod::new(&Method::GET));
/// attributes.status_code(200);
/// let keys: Vec<_> = attributes.into_vec().into_iter().map(|kv| kv.key.to_string()).collect();
/// assert_eq!(keys, ["http.request.method", "http.method", "http.response.status_code", "http.status_code"]);
/// ```
#[derive(Clone, Debug)]
pub struct HttpAttributes {
    role: Role,
    old: bool,
    limit: ValueLength,
    list: Vec<KeyValue>,
}

impl HttpAttributes {
    /// An empty set for a span of `role`.
    pub fn new(role: Role, stability: SemconvStability) -> Self {
        Self::with_capacity(role, stability, 0)
    }

    /// An empty set with room for `capacity` stable attributes.
    pub fn with_capacity(role: Role, stability: SemconvStability, capacity: usize) -> Self {
        let old = stability.emits_old();
        let capacity = if old { 2 * capacity } else { capacity };
        Self { role, old, limit: ValueLength::from_env(), list: Vec::with_capacity(capacity) }
    }

    /// Cuts the strings recorded from now on to `limit`.
    ///
    /// ```
    /// use throughline_tower::semconv::{HttpAttributes, Role, SemconvStability, ValueLength};
    ///
    /// let mut attributes =
    ///     HttpAttributes::new(Role::Server, SemconvStability::Stable).with_value_length(ValueLength::chars(4));
    /// attributes.user_agent("curl/8.5.0");
    /// assert_eq!(attributes.into_vec()[0].value.as_str(), "curl");
    /// ```
    pub fn with_value_length(mut self, limit: ValueLength) -> Self {
        self.limit = limit;
        self
    }

    fn capped(&self, value: &str) -> String {
        self.limit.cap(value).to_owned()
    }

    fn capped_value(&self, value: StringValue) -> StringValue {
        let capped = self.limit.cap(value.as_str());
        if capped.len() == value.as_str().len() { value } else { StringValue::from(capped.to_owned()) }
    }

    fn capped_owned(&self, mut value: String) -> String {
        value.truncate(self.limit.cap(&value).len());
        value
    }

    fn both(&mut self, stable: &'static str, old: &'static str, value: impl Into<Value>) {
        let value = value.into();
        if self.old {
            self.list.push(KeyValue::new(stable, value.clone()));
            self.list.push(KeyValue::new(old, value));
        } else {
            self.list.push(KeyValue::new(stable, value));
        }
    }

    /// `http.request.method` (and `http.request.method_original` for
    /// `_OTHER`); old: `http.method`, with the method as received.
    pub fn method(&mut self, method: &HttpMethod<'_>) {
        self.list.push(KeyValue::new(stable::HTTP_REQUEST_METHOD, method.as_str()));
        if let Some(original) = method.original() {
            self.list.push(KeyValue::new(stable::HTTP_REQUEST_METHOD_ORIGINAL, self.capped(original)));
        }
        if self.old {
            let old_value =
                method.original().map_or(Value::from(method.as_str()), |o| Value::from(self.capped(o)));
            self.list.push(KeyValue::new(old::HTTP_METHOD, old_value));
        }
    }

    /// `http.response.status_code`; old: `http.status_code`.
    pub fn status_code(&mut self, code: u16) {
        self.both(stable::HTTP_RESPONSE_STATUS_CODE, old::HTTP_STATUS_CODE, i64::from(code));
    }

    /// `url.scheme`; old: `http.scheme`.
    pub fn scheme(&mut self, scheme: &'static str) {
        self.both(stable::URL_SCHEME, old::HTTP_SCHEME, scheme);
    }

    /// `url.path` and `url.query` (already redacted); old: `http.target`.
    pub fn path_and_query(&mut self, path: &str, query: Option<&str>) {
        let (path, query) = (self.limit.cap(path), query.map(|query| self.limit.cap(query)));
        self.list.push(KeyValue::new(stable::URL_PATH, path.to_owned()));
        if let Some(query) = query {
            self.list.push(KeyValue::new(stable::URL_QUERY, query.to_owned()));
        }
        if self.old {
            let target = match query {
                Some(query) => format!("{path}?{query}"),
                None => path.to_owned(),
            };
            let target = self.capped_owned(target);
            self.list.push(KeyValue::new(old::HTTP_TARGET, target));
        }
    }

    /// `http.route`, the same name in both generations.
    pub fn route(&mut self, route: StringValue) {
        let route = self.capped_value(route);
        self.list.push(KeyValue::new(stable::HTTP_ROUTE, route));
    }

    /// `server.address` and `server.port`; old: `net.host.*` on a server,
    /// `net.peer.*` on a client.
    pub fn server_address(&mut self, host: &str, port: Option<u16>) {
        let (old_name, old_port) = match self.role {
            Role::Server => (old::NET_HOST_NAME, old::NET_HOST_PORT),
            Role::Client => (old::NET_PEER_NAME, old::NET_PEER_PORT),
        };
        self.both(stable::SERVER_ADDRESS, old_name, self.capped(host));
        if let Some(port) = port {
            self.both(stable::SERVER_PORT, old_port, i64::from(port));
        }
    }

    /// `client.address`; old: `http.client_ip`.
    pub fn client_address(&mut self, address: String) {
        let address = self.capped_owned(address);
        self.both(stable::CLIENT_ADDRESS, old::HTTP_CLIENT_IP, address);
    }

    /// `network.protocol.version`; old: `http.flavor`.
    pub fn protocol_version(&mut self, version: &'static str) {
        self.both(stable::NETWORK_PROTOCOL_VERSION, old::HTTP_FLAVOR, version);
    }

    /// `user_agent.original`; old: `http.user_agent`.
    pub fn user_agent(&mut self, user_agent: &str) {
        self.both(stable::USER_AGENT_ORIGINAL, old::HTTP_USER_AGENT, self.capped(user_agent));
    }

    /// `url.full` (userinfo already removed, query already redacted); old: `http.url`.
    pub fn url_full(&mut self, url: String) {
        let url = self.capped_owned(url);
        self.both(stable::URL_FULL, old::HTTP_URL, url);
    }

    /// `url.template`, the template the caller built the URL from; no old name.
    pub fn url_template(&mut self, template: StringValue) {
        let template = self.capped_value(template);
        self.list.push(KeyValue::new(stable::URL_TEMPLATE, template));
    }

    /// `http.request.resend_count`, the sends before this one; old: `http.resend_count`.
    pub fn resend_count(&mut self, resends: u32) {
        self.both(stable::HTTP_REQUEST_RESEND_COUNT, old::HTTP_RESEND_COUNT, i64::from(resends));
    }

    /// `error.type`, the same name in both generations.
    pub fn error_type(&mut self, error_type: impl Into<StringValue>) {
        self.list.push(KeyValue::new(stable::ERROR_TYPE, error_type.into()));
    }

    /// Any other attribute, as it is.
    pub fn push(&mut self, attribute: KeyValue) {
        self.list.push(attribute);
    }

    /// The attributes, in the order written.
    pub fn into_vec(self) -> Vec<KeyValue> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn keys(attributes: HttpAttributes) -> Vec<String> {
        attributes.into_vec().into_iter().map(|kv| kv.key.to_string()).collect()
    }

    #[test]
    fn stable_only_by_default() {
        let mut attributes = HttpAttributes::new(Role::Server, SemconvStability::Stable);
        attributes.path_and_query("/a", Some("b=1"));
        attributes.server_address("example.com", Some(80));
        assert_eq!(keys(attributes), ["url.path", "url.query", "server.address", "server.port"]);
    }

    #[test]
    fn old_names_differ_by_role() {
        let mut server = HttpAttributes::new(Role::Server, SemconvStability::Duplicate);
        server.server_address("example.com", None);
        assert_eq!(keys(server), ["server.address", "net.host.name"]);
        let mut client = HttpAttributes::new(Role::Client, SemconvStability::Duplicate);
        client.server_address("example.com", None);
        assert_eq!(keys(client), ["server.address", "net.peer.name"]);
    }

    #[test]
    fn other_methods_keep_the_original_under_both_names() {
        let method = Method::from_bytes(b"PURGE").unwrap();
        let mut attributes = HttpAttributes::new(Role::Server, SemconvStability::Duplicate);
        attributes.method(&HttpMethod::new(&method));
        let list = attributes.into_vec();
        assert_eq!(list[0].value.as_str(), "_OTHER");
        assert_eq!(list[1].value.as_str(), "PURGE");
        assert_eq!((list[2].key.as_str(), list[2].value.as_str().as_ref()), ("http.method", "PURGE"));
    }
}
