//! `http.client.request.duration` and `http.client.active_requests`, per the
//! HTTP semantic conventions.

#[cfg(feature = "bound-metrics")]
use std::sync::Arc;

#[cfg(feature = "bound-metrics")]
use opentelemetry::metrics::{BoundHistogram, BoundUpDownCounter};
use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute as names;

#[cfg(feature = "bound-metrics")]
use crate::bound::BoundSets;
use crate::semconv::metrics::{
    DURATION_BUCKETS, HTTP_CLIENT_ACTIVE_REQUESTS, HTTP_CLIENT_REQUEST_DURATION, REQUESTS, SECONDS,
};

/// The instrument, created once per [`ClientInstrumentation`](super::ClientInstrumentation).
#[derive(Clone, Debug)]
pub(crate) struct ClientMetrics {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
    #[cfg(feature = "bound-metrics")]
    bound: Arc<Bound>,
}

/// The instruments bound per attribute set; see [`crate::bound`].
#[cfg(feature = "bound-metrics")]
#[derive(Debug, Default)]
struct Bound {
    /// By method, scheme, address and port.
    active: BoundSets<(&'static str, &'static str, StringValue, u16), BoundUpDownCounter<i64>>,
    duration: BoundSets<Labels, BoundHistogram<f64>>,
}

/// The attributes of one call's measurement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Labels {
    pub(crate) method: &'static str,
    pub(crate) scheme: &'static str,
    pub(crate) address: StringValue,
    pub(crate) port: u16,
    pub(crate) protocol: &'static str,
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<StringValue>,
}

impl Labels {
    /// What `http.client.active_requests` is split by: known before the call.
    fn active(&self) -> [KeyValue; 4] {
        [
            KeyValue::new(names::HTTP_REQUEST_METHOD, self.method),
            KeyValue::new(names::URL_SCHEME, self.scheme),
            KeyValue::new(names::SERVER_ADDRESS, self.address.clone()),
            KeyValue::new(names::SERVER_PORT, i64::from(self.port)),
        ]
    }

    /// The attributes of `http.client.request.duration`, in a fixed array
    /// so that recording allocates nothing; the first `len` are the set.
    fn completed(&self) -> ([KeyValue; 7], usize) {
        let method = KeyValue::new(names::HTTP_REQUEST_METHOD, self.method);
        let mut attributes = [
            method.clone(),
            KeyValue::new(names::URL_SCHEME, self.scheme),
            KeyValue::new(names::SERVER_ADDRESS, self.address.clone()),
            KeyValue::new(names::SERVER_PORT, i64::from(self.port)),
            KeyValue::new(names::NETWORK_PROTOCOL_VERSION, self.protocol),
            method.clone(),
            method,
        ];
        let mut len = 5;
        let optional = [
            self.status.map(|status| KeyValue::new(names::HTTP_RESPONSE_STATUS_CODE, i64::from(status))),
            self.error_type.clone().map(|error_type| KeyValue::new(names::ERROR_TYPE, error_type)),
        ];
        for attribute in optional.into_iter().flatten() {
            attributes[len] = attribute;
            len += 1;
        }
        (attributes, len)
    }
}

impl ClientMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        let duration = meter
            .f64_histogram(HTTP_CLIENT_REQUEST_DURATION)
            .with_unit(SECONDS)
            .with_description("Duration of HTTP client requests.")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let active = meter
            .i64_up_down_counter(HTTP_CLIENT_ACTIVE_REQUESTS)
            .with_unit(REQUESTS)
            .with_description("Number of active HTTP requests.")
            .build();
        Self {
            duration,
            active,
            #[cfg(feature = "bound-metrics")]
            bound: Arc::default(),
        }
    }

    /// A call started: one more active request.
    pub(crate) fn started(&self, labels: &Labels) {
        self.active_add(labels, 1);
    }

    /// A call ended, however: one fewer, under the same attributes.
    pub(crate) fn ended(&self, labels: &Labels) {
        self.active_add(labels, -1);
    }

    fn active_add(&self, labels: &Labels, delta: i64) {
        #[cfg(feature = "bound-metrics")]
        if self.bound.active.record(
            &(labels.method, labels.scheme, labels.address.clone(), labels.port),
            || self.active.bind(&labels.active()),
            |active| active.add(delta),
        ) {
            return;
        }
        self.active.add(delta, &labels.active());
    }

    pub(crate) fn record(&self, labels: &Labels, seconds: f64) {
        #[cfg(feature = "bound-metrics")]
        if self.bound.duration.record(
            labels,
            || {
                let (attributes, len) = labels.completed();
                self.duration.bind(&attributes[..len])
            },
            |duration| duration.record(seconds),
        ) {
            return;
        }
        let (attributes, len) = labels.completed();
        self.duration.record(seconds, &attributes[..len]);
    }
}
