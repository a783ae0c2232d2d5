//! A fault-injection tower layer for HTTP services: seeded error and timeout
//! rates, a latency distribution and outage windows, changeable at run time.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tower::{Layer, Service};

/// How long a request waits before it is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Latency {
    /// No added latency.
    #[default]
    None,
    /// Always the same.
    Fixed(Duration),
    /// Uniform between the bounds.
    Uniform {
        /// Shortest.
        min: Duration,
        /// Longest.
        max: Duration,
    },
    /// Exponential with this mean, cut at `max`: mostly fast, with a long tail.
    Exponential {
        /// Mean.
        mean: Duration,
        /// Longest.
        max: Duration,
    },
}

/// A time window, measured from when the layer was created (or its faults
/// last set), during which every request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When it starts.
    pub start: Duration,
    /// How long it lasts.
    pub length: Duration,
}

/// The faults to inject. Decisions come from a random generator seeded with
/// [`seed`](Self::seed), so a run can be replayed.
///
/// ```
/// use std::time::Duration;
/// use throughline_testing::{Faults, Latency};
///
/// let faults = Faults::new(42)
///     .error_rate(0.1)
///     .timeout_rate(0.1)
///     .latency(Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(50) });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    seed: u64,
    error_rate: f64,
    error_status: StatusCode,
    timeout_rate: f64,
    hang: Duration,
    latency: Latency,
    outages: Vec<Outage>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Faults {
    /// No faults yet, decisions seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            error_rate: 0.0,
            error_status: StatusCode::INTERNAL_SERVER_ERROR,
            timeout_rate: 0.0,
            hang: Duration::from_secs(30),
            latency: Latency::None,
            outages: Vec::new(),
        }
    }

    /// The share of requests (0 to 1) answered with the error status.
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// The status injected errors carry (500 by default).
    pub fn error_status(mut self, status: StatusCode) -> Self {
        self.error_status = status;
        self
    }

    /// The share of requests (0 to 1) that hang, as an overloaded server does,
    /// for the hang time (30 s by default) and are then answered 504.
    pub fn timeout_rate(mut self, rate: f64) -> Self {
        self.timeout_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// How long a timed-out request hangs.
    pub fn hang(mut self, hang: Duration) -> Self {
        self.hang = hang;
        self
    }

    /// Latency added to every request that is not in an outage.
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// A window during which every request is answered 503.
    pub fn outage(mut self, outage: Outage) -> Self {
        self.outages.push(outage);
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// What the layer did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests seen.
    pub requests: u64,
    /// Requests answered with the error status.
    pub errors: u64,
    /// Requests that hung and were answered 504.
    pub timeouts: u64,
    /// Requests answered 503 during an outage.
    pub outages: u64,
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Decision {
    Outage,
    Timeout(Duration),
    Error(Duration, StatusCode),
    Pass(Duration),
}

struct State {
    faults: Faults,
    rng: StdRng,
    since: Instant,
}

impl State {
    fn new(faults: Faults) -> Self {
        Self { rng: StdRng::seed_from_u64(faults.seed), faults, since: Instant::now() }
    }

    fn decide(&mut self) -> Decision {
        let elapsed = self.since.elapsed();
        if self.faults.outages.iter().any(|o| elapsed >= o.start && elapsed < o.start + o.length) {
            return Decision::Outage;
        }
        let latency = match self.faults.latency {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } if max > min => self.rng.random_range(min..=max),
            Latency::Uniform { min, .. } => min,
            Latency::Exponential { mean, max } => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                mean.mul_f64(-u.ln()).min(max)
            }
        };
        let draw: f64 = self.rng.random();
        if draw < self.faults.timeout_rate {
            Decision::Timeout(latency + self.faults.hang)
        } else if draw < self.faults.timeout_rate + self.faults.error_rate {
            Decision::Error(latency, self.faults.error_status)
        } else {
            Decision::Pass(latency)
        }
    }
}

struct Shared {
    state: Mutex<State>,
    requests: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    outages: AtomicU64,
}

/// A layer injecting [`Faults`] into an HTTP service. Clones share their faults,
/// generator and statistics.
///
/// ```
/// use axum::{routing::get, Router};
/// use throughline_testing::{FaultLayer, Faults};
///
/// let faults = FaultLayer::new(Faults::new(7).error_rate(0.5));
/// let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(faults.clone());
/// // Later, during the test: switch the faults off.
/// faults.set(Faults::new(7));
/// ```
#[derive(Clone)]
pub struct FaultLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FaultLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultLayer").finish_non_exhaustive()
    }
}

impl FaultLayer {
    /// A layer injecting `faults`.
    pub fn new(faults: Faults) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(faults)),
                requests: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
                outages: AtomicU64::new(0),
            }),
        }
    }

    /// Replaces the faults; the generator is reseeded and outage windows are
    /// measured from now.
    pub fn set(&self, faults: Faults) {
        *self.shared.state.lock().unwrap_or_else(|p| p.into_inner()) = State::new(faults);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).faults.clone()
    }

    /// What the layer did so far.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.shared.requests.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
            timeouts: self.shared.timeouts.load(Ordering::Relaxed),
            outages: self.shared.outages.load(Ordering::Relaxed),
        }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = Fault<S>;
    fn layer(&self, inner: S) -> Fault<S> {
        Fault { inner, shared: self.shared.clone() }
    }
}

/// The service [`FaultLayer`] makes.
#[derive(Clone)]
pub struct Fault<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Fault<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fault").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Fault<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let decision = shared.state.lock().unwrap_or_else(|p| p.into_inner()).decide();
        // The service that was polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let status = |status: StatusCode| {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = status;
                Ok(response)
            };
            match decision {
                Decision::Outage => {
                    shared.outages.fetch_add(1, Ordering::Relaxed);
                    status(StatusCode::SERVICE_UNAVAILABLE)
                }
                Decision::Timeout(hang) => {
                    shared.timeouts.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(hang).await;
                    status(StatusCode::GATEWAY_TIMEOUT)
                }
                Decision::Error(latency, code) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(latency).await;
                    status(code)
                }
                Decision::Pass(latency) => {
                    tokio::time::sleep(latency).await;
                    inner.call(request).await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(faults: Faults, n: usize) -> Vec<Decision> {
        let mut state = State::new(faults);
        (0..n).map(|_| state.decide()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_seed_replays_the_same_decisions() {
        let faults = Faults::new(9).error_rate(0.3).timeout_rate(0.2).latency(Latency::Exponential {
            mean: Duration::from_millis(10),
            max: Duration::from_millis(100),
        });
        assert_eq!(decisions(faults.clone(), 200), decisions(faults, 200));
    }

    #[tokio::test(start_paused = true)]
    async fn rates_hold_over_many_requests() {
        let all = decisions(Faults::new(1).error_rate(0.1).timeout_rate(0.1), 10_000);
        let errors = all.iter().filter(|d| matches!(d, Decision::Error(..))).count();
        let timeouts = all.iter().filter(|d| matches!(d, Decision::Timeout(..))).count();
        assert!((900..1100).contains(&errors), "{errors}");
        assert!((900..1100).contains(&timeouts), "{timeouts}");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_stays_within_its_bounds() {
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(50));
        for decision in decisions(Faults::new(3).latency(Latency::Uniform { min, max }), 1000) {
            let Decision::Pass(latency) = decision else { panic!("{decision:?}") };
            assert!(latency >= min && latency <= max, "{latency:?}");
        }
        let cap = Duration::from_millis(80);
        let tail = Latency::Exponential { mean: Duration::from_millis(20), max: cap };
        assert!(
            decisions(Faults::new(3).latency(tail), 1000)
                .iter()
                .all(|d| matches!(d, Decision::Pass(l) if *l <= cap))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn outages_follow_their_window() {
        let mut state = State::new(
            Faults::new(0).outage(Outage { start: Duration::from_secs(10), length: Duration::from_secs(5) }),
        );
        assert_eq!(state.decide(), Decision::Pass(Duration::ZERO));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(state.decide(), Decision::Outage);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(state.decide(), Decision::Pass(Duration::ZERO));
    }
}
