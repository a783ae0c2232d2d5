//! The RED metrics of the server, per the HTTP semantic conventions.

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
    BYTES, DURATION_BUCKETS, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE, REQUESTS, SECONDS,
};

/// The instruments, created once per layer.
#[derive(Clone, Debug)]
pub(crate) struct ServerMetrics {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
    /// The two body-size histograms are opt-in in the conventions.
    body_sizes: Option<(Histogram<u64>, Histogram<u64>)>,
    #[cfg(feature = "bound-metrics")]
    bound: Arc<Bound>,
}

/// The instruments bound per attribute set; see [`crate::bound`].
#[cfg(feature = "bound-metrics")]
#[derive(Debug, Default)]
struct Bound {
    /// By method and scheme.
    active: BoundSets<(&'static str, &'static str), BoundUpDownCounter<i64>>,
    completed: BoundSets<Labels, Completed>,
}

/// The instruments a completed request records, bound to its labels.
#[cfg(feature = "bound-metrics")]
struct Completed {
    duration: BoundHistogram<f64>,
    body_sizes: Option<(BoundHistogram<u64>, BoundHistogram<u64>)>,
}

/// The low-cardinality attributes every metric of one request carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Labels {
    pub(crate) method: &'static str,
    pub(crate) scheme: &'static str,
    pub(crate) route: Option<StringValue>,
    pub(crate) protocol: &'static str,
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<StringValue>,
}

impl Labels {
    fn active(&self) -> [KeyValue; 2] {
        [
            KeyValue::new(names::HTTP_REQUEST_METHOD, self.method),
            KeyValue::new(names::URL_SCHEME, self.scheme),
        ]
    }

    /// The attributes of a completed request, in a fixed array so that
    /// recording allocates nothing; the first `len` are the set.
    fn completed(&self) -> ([KeyValue; 6], usize) {
        let method = KeyValue::new(names::HTTP_REQUEST_METHOD, self.method);
        let mut attributes = [
            method.clone(),
            KeyValue::new(names::URL_SCHEME, self.scheme),
            KeyValue::new(names::NETWORK_PROTOCOL_VERSION, self.protocol),
            method.clone(),
            method.clone(),
            method,
        ];
        let mut len = 3;
        let optional = [
            self.route.clone().map(|route| KeyValue::new(names::HTTP_ROUTE, route)),
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

/// What one request measured.
pub(crate) struct Measured {
    pub(crate) seconds: f64,
    pub(crate) request_body: Option<u64>,
    pub(crate) response_body: u64,
}

impl ServerMetrics {
    pub(crate) fn new(meter: &Meter, body_sizes: bool) -> Self {
        let duration = meter
            .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
            .with_unit(SECONDS)
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let active = meter
            .i64_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit(REQUESTS)
            .with_description("Number of active HTTP server requests.")
            .build();
        let body_sizes = body_sizes.then(|| {
            let size = |name, description| {
                meter.u64_histogram(name).with_unit(BYTES).with_description(description).build()
            };
            (
                size(HTTP_SERVER_REQUEST_BODY_SIZE, "Size of HTTP server request bodies."),
                size(HTTP_SERVER_RESPONSE_BODY_SIZE, "Size of HTTP server response bodies."),
            )
        });
        #[cfg(feature = "bound-metrics")]
        let bound = Arc::default();
        Self {
            duration,
            active,
            body_sizes,
            #[cfg(feature = "bound-metrics")]
            bound,
        }
    }

    pub(crate) fn started(&self, labels: &Labels) {
        self.active_add(labels, 1);
    }

    pub(crate) fn completed(&self, labels: &Labels, measured: &Measured) {
        self.active_add(labels, -1);
        #[cfg(feature = "bound-metrics")]
        if self.bound.completed.record(labels, || self.bind_completed(labels), |bound| bound.record(measured))
        {
            return;
        }
        let (attributes, len) = labels.completed();
        let attributes = &attributes[..len];
        self.duration.record(measured.seconds, attributes);
        if let Some((request, response)) = &self.body_sizes {
            if let Some(size) = measured.request_body {
                request.record(size, attributes);
            }
            response.record(measured.response_body, attributes);
        }
    }

    fn active_add(&self, labels: &Labels, delta: i64) {
        #[cfg(feature = "bound-metrics")]
        if self.bound.active.record(
            &(labels.method, labels.scheme),
            || self.active.bind(&labels.active()),
            |active| active.add(delta),
        ) {
            return;
        }
        self.active.add(delta, &labels.active());
    }

    #[cfg(feature = "bound-metrics")]
    fn bind_completed(&self, labels: &Labels) -> Completed {
        let (attributes, len) = labels.completed();
        let attributes = &attributes[..len];
        Completed {
            duration: self.duration.bind(attributes),
            body_sizes: self
                .body_sizes
                .as_ref()
                .map(|(request, response)| (request.bind(attributes), response.bind(attributes))),
        }
    }
}

#[cfg(feature = "bound-metrics")]
impl Completed {
    fn record(&self, measured: &Measured) {
        self.duration.record(measured.seconds);
        if let Some((request, response)) = &self.body_sizes {
            if let Some(size) = measured.request_body {
                request.record(size);
            }
            response.record(measured.response_body);
        }
    }
}
