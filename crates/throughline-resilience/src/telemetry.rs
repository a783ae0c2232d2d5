//! The metric instruments, under the one `resilience.*` schema documented in
//! the crate docs. Libraries use the OpenTelemetry API only: without a meter
//! provider every instrument is a no-op.

use std::sync::Arc;

use opentelemetry::metrics::{Counter, Gauge, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue, global};

use crate::attribute::{FROM_STATE, NAME, OUTCOME, RETRY_REASON, SHED_REASON, TO_STATE};

/// The outcome of one call through a policy, the `resilience.outcome` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    Success = 0,
    Failure = 1,
    Rejected = 2,
    Shed = 3,
    Timeout = 4,
}

impl CallOutcome {
    const ALL: [CallOutcome; 5] = [Self::Success, Self::Failure, Self::Rejected, Self::Shed, Self::Timeout];

    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Rejected => "rejected",
            Self::Shed => "shed",
            Self::Timeout => "timeout",
        }
    }
}

/// The instruments of one named policy, breaker or limiter. Clones share them.
#[derive(Clone, Debug)]
pub(crate) struct Telemetry {
    inner: Arc<Instruments>,
}

#[derive(Debug)]
struct Instruments {
    name: Arc<str>,
    attribute: [KeyValue; 1],
    calls: Counter<u64>,
    // Built once, so that recording a call clones nothing.
    call_attributes: [[KeyValue; 2]; 5],
    retry_attempts: Counter<u64>,
    budget_exhausted: Counter<u64>,
    breaker_state: Gauge<u64>,
    breaker_transitions: Counter<u64>,
    breaker_rejections: Counter<u64>,
    shed: Counter<u64>,
    limit: Gauge<u64>,
    hedge_sent: Counter<u64>,
    hedge_won: Counter<u64>,
    hedge_cancelled: Counter<u64>,
}

/// The meter of the crate's instrumentation scope from the global provider.
pub(crate) fn default_meter() -> Meter {
    global::meter_with_scope(scope())
}

/// The meter of `provider` under this crate's instrumentation scope, what
/// every config's `meter_provider` setter keeps.
pub(crate) fn meter_of(provider: &impl MeterProvider) -> Meter {
    provider.meter_with_scope(scope())
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("throughline-resilience").with_version(env!("CARGO_PKG_VERSION")).build()
}

impl Telemetry {
    pub(crate) fn new(name: &str, meter: &Meter) -> Self {
        let name: Arc<str> = name.into();
        let attribute = KeyValue::new(NAME, opentelemetry::StringValue::from(name.clone()));
        let call_attributes =
            CallOutcome::ALL.map(|outcome| [attribute.clone(), KeyValue::new(OUTCOME, outcome.as_str())]);
        Self {
            inner: Arc::new(Instruments {
                calls: meter.u64_counter("resilience.calls").with_unit("{call}").with_description("Calls through a resilience policy, by outcome").build(),
                retry_attempts: meter.u64_counter("resilience.retry.attempts").with_unit("{attempt}").with_description("Attempts after the first, by the reason for retrying").build(),
                budget_exhausted: meter.u64_counter("resilience.retry.budget_exhausted").with_unit("{retry}").with_description("Retries not made because the retry budget was spent").build(),
                breaker_state: meter.u64_gauge("resilience.circuit_breaker.state").with_unit("1").with_description("Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 forced open, 4 forced closed, 5 disabled").build(),
                breaker_transitions: meter.u64_counter("resilience.circuit_breaker.transitions").with_unit("{transition}").with_description("Circuit breaker state transitions").build(),
                breaker_rejections: meter.u64_counter("resilience.circuit_breaker.rejections").with_unit("{call}").with_description("Calls rejected by an open circuit breaker").build(),
                shed: meter.u64_counter("resilience.shed").with_unit("{request}").with_description("Requests shed by a concurrency limit, by reason").build(),
                limit: meter.u64_gauge("resilience.concurrency.limit").with_unit("{request}").with_description("The current concurrency limit").build(),
                hedge_sent: meter.u64_counter("resilience.hedge.sent").with_unit("{request}").with_description("Hedged requests sent, besides the first attempts").build(),
                hedge_won: meter.u64_counter("resilience.hedge.won").with_unit("{request}").with_description("Hedged requests whose answer was the call's").build(),
                hedge_cancelled: meter.u64_counter("resilience.hedge.cancelled").with_unit("{request}").with_description("Attempts cancelled because another attempt of the call settled it").build(),
                name,
                attribute: [attribute],
                call_attributes,
            }),
        }
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.inner.name
    }

    pub(crate) fn call(&self, outcome: CallOutcome) {
        self.inner.calls.add(1, &self.inner.call_attributes[outcome as usize]);
    }

    pub(crate) fn retry(&self, reason: &'static str) {
        self.inner
            .retry_attempts
            .add(1, &[self.inner.attribute[0].clone(), KeyValue::new(RETRY_REASON, reason)]);
    }

    pub(crate) fn budget_exhausted(&self) {
        self.inner.budget_exhausted.add(1, &self.inner.attribute);
    }

    pub(crate) fn breaker_state(&self, value: u64) {
        self.inner.breaker_state.record(value, &self.inner.attribute);
    }

    pub(crate) fn breaker_transition(&self, from: &'static str, to: &'static str) {
        let attributes =
            [self.inner.attribute[0].clone(), KeyValue::new(FROM_STATE, from), KeyValue::new(TO_STATE, to)];
        self.inner.breaker_transitions.add(1, &attributes);
    }

    pub(crate) fn breaker_rejection(&self) {
        self.inner.breaker_rejections.add(1, &self.inner.attribute);
    }

    pub(crate) fn shed(&self, reason: &'static str) {
        self.inner.shed.add(1, &[self.inner.attribute[0].clone(), KeyValue::new(SHED_REASON, reason)]);
    }

    pub(crate) fn limit(&self, limit: usize) {
        self.inner.limit.record(limit as u64, &self.inner.attribute);
    }

    pub(crate) fn hedge_sent(&self) {
        self.inner.hedge_sent.add(1, &self.inner.attribute);
    }

    pub(crate) fn hedge_won(&self) {
        self.inner.hedge_won.add(1, &self.inner.attribute);
    }

    pub(crate) fn hedge_cancelled(&self, attempts: u64) {
        self.inner.hedge_cancelled.add(attempts, &self.inner.attribute);
    }
}
