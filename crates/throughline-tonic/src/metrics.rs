//! The call duration histograms of the RPC conventions.

#[cfg(feature = "bound-metrics")]
use std::sync::Arc;

#[cfg(feature = "bound-metrics")]
use opentelemetry::metrics::BoundHistogram;
use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};
use throughline_core::GrpcCode;
#[cfg(feature = "bound-metrics")]
use throughline_tower::bound::BoundSets;
use throughline_tower::semconv::Role;

use crate::semconv::{
    self, DURATION_BUCKETS, ERROR_TYPE, GRPC, RPC_CLIENT_CALL_DURATION, RPC_METHOD, RPC_RESPONSE_STATUS_CODE,
    RPC_SERVER_CALL_DURATION, RPC_SYSTEM_NAME, RpcStability, SECONDS, SERVER_ADDRESS, SERVER_PORT, old,
};

/// The instrumentation scope of every span and metric of this crate.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// The instruments of one side, created once per layer.
#[derive(Clone, Debug)]
pub(crate) struct CallMetrics {
    pub(crate) role: Role,
    pub(crate) stability: RpcStability,
    duration: Histogram<f64>,
    /// `rpc.{server,client}.duration` in milliseconds, under `rpc/dup`.
    old_duration: Option<Histogram<f64>>,
    #[cfg(feature = "bound-metrics")]
    bound: Arc<BoundSets<Labels, Bound>>,
}

/// Both histograms bound to one label set; see [`throughline_tower::bound`].
#[cfg(feature = "bound-metrics")]
type Bound = (BoundHistogram<f64>, Option<BoundHistogram<f64>>);

/// The low-cardinality attributes of one call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Labels {
    /// The full method, or `_OTHER`.
    pub(crate) method: StringValue,
    /// The old `rpc.service`, only kept under `rpc/dup`.
    pub(crate) service: Option<StringValue>,
    pub(crate) code: Option<GrpcCode>,
    pub(crate) error_type: Option<StringValue>,
    /// `server.address` and `server.port`: recorded by the client only,
    /// where the conventions require them.
    pub(crate) server: Option<(StringValue, Option<u16>)>,
}

impl CallMetrics {
    pub(crate) fn new(meter: &Meter, role: Role, stability: RpcStability) -> Self {
        let (name, old_name, description) = match role {
            Role::Server => {
                (RPC_SERVER_CALL_DURATION, old::RPC_SERVER_DURATION, "Duration of gRPC calls served.")
            }
            Role::Client => {
                (RPC_CLIENT_CALL_DURATION, old::RPC_CLIENT_DURATION, "Duration of gRPC calls made.")
            }
        };
        let duration = meter
            .f64_histogram(name)
            .with_unit(SECONDS)
            .with_description(description)
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let old_duration = stability.emits_old().then(|| {
            meter
                .f64_histogram(old_name)
                .with_unit(old::MILLISECONDS)
                .with_description(description)
                .with_boundaries(old::DURATION_BUCKETS_MS.to_vec())
                .build()
        });
        Self {
            role,
            stability,
            duration,
            old_duration,
            #[cfg(feature = "bound-metrics")]
            bound: Arc::default(),
        }
    }

    /// Records a completed call.
    pub(crate) fn record(&self, labels: &Labels, seconds: f64) {
        #[cfg(feature = "bound-metrics")]
        if self.bound.record(
            labels,
            || {
                let (attributes, len) = labels.attributes();
                let old = self
                    .old_duration
                    .as_ref()
                    .map(|old| old.bind(&labels.old_attributes(&attributes[..len])));
                (self.duration.bind(&attributes[..len]), old)
            },
            |(duration, old_duration)| {
                duration.record(seconds);
                if let Some(old_duration) = old_duration {
                    old_duration.record(seconds * 1000.0);
                }
            },
        ) {
            return;
        }
        let (attributes, len) = labels.attributes();
        self.duration.record(seconds, &attributes[..len]);
        if let Some(old_duration) = &self.old_duration {
            old_duration.record(seconds * 1000.0, &labels.old_attributes(&attributes[..len]));
        }
    }
}

impl Labels {
    /// The attributes of the call duration, in a fixed array so that
    /// recording allocates nothing; the first `len` are the set.
    fn attributes(&self) -> ([KeyValue; 6], usize) {
        let system = KeyValue::new(RPC_SYSTEM_NAME, GRPC);
        let mut attributes =
            [system.clone(), system.clone(), system.clone(), system.clone(), system.clone(), system];
        attributes[1] = KeyValue::new(RPC_METHOD, self.method.clone());
        let mut len = 2;
        let optional = [
            self.code.map(|code| KeyValue::new(RPC_RESPONSE_STATUS_CODE, code.as_str())),
            self.error_type.clone().map(|error_type| KeyValue::new(ERROR_TYPE, error_type)),
            self.server.as_ref().map(|(host, _)| KeyValue::new(SERVER_ADDRESS, host.clone())),
            self.server
                .as_ref()
                .and_then(|(_, port)| port.map(|port| KeyValue::new(SERVER_PORT, i64::from(port)))),
        ];
        for attribute in optional.into_iter().flatten() {
            attributes[len] = attribute;
            len += 1;
        }
        (attributes, len)
    }

    /// The old duration's attributes, under `rpc/dup`: the current ones and
    /// the old names.
    fn old_attributes(&self, current: &[KeyValue]) -> Vec<KeyValue> {
        let mut old_attributes = Vec::with_capacity(current.len() + 3);
        old_attributes.extend_from_slice(current);
        old_attributes.push(KeyValue::new(old::RPC_SYSTEM, semconv::GRPC));
        if let Some(service) = &self.service {
            old_attributes.push(KeyValue::new(old::RPC_SERVICE, service.clone()));
        }
        if let Some(code) = self.code {
            old_attributes.push(KeyValue::new(old::RPC_GRPC_STATUS_CODE, i64::from(code as i32)));
        }
        old_attributes
    }
}
