//! Opt-in capture of named metadata as `rpc.request.metadata.<key>` and
//! `rpc.response.metadata.<key>`: throughline-tower's [`HeaderCapture`]
//! (the sensitive names dropped, values cut to the process's bound, values
//! that are not visible ASCII skipped), under the RPC conventions' names.

use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use opentelemetry::{Key, KeyValue};
use throughline_tower::semconv::{HeaderCapture, Message};

use crate::semconv::{RPC_REQUEST_METADATA, RPC_RESPONSE_METADATA, old};

/// One captured key: throughline-tower's capture of that one header, and
/// the names the attribute is recorded under.
#[derive(Clone, Debug)]
struct Captured {
    name: HeaderName,
    capture: HeaderCapture,
    key: Key,
    /// The name of the earlier conventions, for `rpc/dup`.
    old: Key,
}

/// The metadata keys of one message (request or response) to record.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetadataCapture {
    keys: Vec<Captured>,
}

impl MetadataCapture {
    /// Captures `names` from `message`, less the sensitive ones and repeats.
    pub(crate) fn new(message: Message, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let (prefix, old_prefix) = match message {
            Message::Request => (RPC_REQUEST_METADATA, old::RPC_GRPC_REQUEST_METADATA),
            Message::Response => (RPC_RESPONSE_METADATA, old::RPC_GRPC_RESPONSE_METADATA),
        };
        let mut keys: Vec<Captured> = Vec::new();
        for name in names {
            let capture = HeaderCapture::new(message, [name.clone()]);
            if capture.is_empty() || keys.iter().any(|known| known.name == name) {
                continue;
            }
            // Shared, not copied, by every span that records the key.
            let key = Key::from(Arc::<str>::from(format!("{prefix}.{}", name.as_str())));
            let old = Key::from(Arc::<str>::from(format!("{old_prefix}.{}", name.as_str())));
            keys.push(Captured { name, capture, key, old });
        }
        Self { keys }
    }

    /// Whether nothing is captured.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Appends to `attributes` the configured keys present in `headers`,
    /// each an array of its values; with `dup`, under the old name too.
    pub(crate) fn record(&self, headers: &HeaderMap, dup: bool, attributes: &mut Vec<KeyValue>) {
        for captured in &self.keys {
            // One header asked for: at most one attribute, named as HTTP names it.
            let Some(found) = captured.capture.attributes(headers).next() else { continue };
            if dup {
                attributes.push(KeyValue::new(captured.old.clone(), found.value.clone()));
            }
            attributes.push(KeyValue::new(captured.key.clone(), found.value));
        }
    }
}

/// What a layer captures: the request's metadata and the response's.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) request: MetadataCapture,
    pub(crate) response: MetadataCapture,
}

impl Metadata {
    /// `metadata` with the captures `change` sets; `None` when nothing is
    /// captured, so that a call pays nothing for the feature it does not use.
    pub(crate) fn changed(metadata: Option<Arc<Self>>, change: impl FnOnce(&mut Self)) -> Option<Arc<Self>> {
        let mut metadata = metadata.map(|m| Self::clone(&m)).unwrap_or_default();
        change(&mut metadata);
        (!metadata.request.is_empty() || !metadata.response.is_empty()).then(|| Arc::new(metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_and_repeated_keys_are_dropped() {
        let names = ["x-tenant", "authorization", "x-api-key", "x-tenant"].map(HeaderName::from_static);
        let capture = MetadataCapture::new(Message::Request, names);
        let mut headers = HeaderMap::new();
        headers.append("x-tenant", "acme".parse().unwrap());
        headers.append("x-tenant", "globex".parse().unwrap());
        headers.insert("authorization", "Bearer s3cr3t".parse().unwrap());
        let mut attributes = Vec::new();
        capture.record(&headers, true, &mut attributes);
        let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["rpc.grpc.request.metadata.x-tenant", "rpc.request.metadata.x-tenant"]);
        assert_eq!(attributes[1].value.as_str(), r#"["acme","globex"]"#);
    }
}
