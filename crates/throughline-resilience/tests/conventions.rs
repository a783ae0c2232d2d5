//! tower-http's conventions hold for every middleware of the crate: a
//! `Foo::layer(..)` constructor, and the wrapped service reachable through
//! `get_ref`, `get_mut` and `into_inner`.

use std::time::Duration;

use throughline_resilience::circuit_breaker::{BreakerConfig, CircuitBreaker};
use throughline_resilience::http_rejection::HttpRejection;
use throughline_resilience::limit::{ConcurrencyLimit, LimitAlgorithm, LimiterConfig};
use throughline_resilience::retry::{Retry, RetryConfig};
use throughline_resilience::timeout::Timeout;
use throughline_resilience::{AnyError, BufferBody, EnforceDeadline, Policy, Resilience};
use tower::Layer;

/// A service that is only an identity, to find it again.
#[derive(Clone, Debug, PartialEq)]
struct Inner(u32);

/// Wraps `Inner(7)` with `layer`, then checks the three accessors reach it.
macro_rules! assert_accessors {
    ($layer:expr) => {{
        let mut service = $layer.layer(Inner(7));
        assert_eq!(service.get_ref(), &Inner(7));
        service.get_mut().0 = 8;
        assert_eq!(service.into_inner(), Inner(8));
    }};
}

#[test]
fn every_service_has_a_layer_constructor_and_inner_accessors() {
    let second = Duration::from_secs(1);
    assert_accessors!(EnforceDeadline::layer(second));
    assert_accessors!(Timeout::layer(second));
    assert_accessors!(Retry::layer(RetryConfig::new("r").build().unwrap()));
    assert_accessors!(CircuitBreaker::layer(BreakerConfig::new("b").build().unwrap(), AnyError));
    assert_accessors!(ConcurrencyLimit::layer(
        LimiterConfig::new("l", LimitAlgorithm::Fixed(1)).build().unwrap()
    ));
    assert_accessors!(HttpRejection::layer());
    assert_accessors!(BufferBody::layer(1024));
    let policy = Policy::builder("all")
        .timeout(second)
        .retry(RetryConfig::new("all"))
        .circuit_breaker(BreakerConfig::new("all").build().unwrap())
        .attempt_timeout(second)
        .build()
        .unwrap();
    assert_accessors!(Resilience::layer(&policy));
}
