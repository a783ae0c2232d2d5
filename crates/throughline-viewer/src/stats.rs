//! Rate, errors and duration per service and route, from the entry spans
//! (server and consumer spans, and roots), in fixed memory per route: a
//! log-scale histogram for the percentiles and a one-minute ring of
//! per-second counts for the rate.

use std::collections::HashMap;
use std::sync::Arc;

/// zPages' latency buckets: under 10 µs, 100 µs, 1 ms, 10 ms, 100 ms, 1 s,
/// 10 s, 100 s, and longer. The store keeps sample traces in each.
pub const LATENCY_BUCKETS: usize = 9;

/// The buckets' lower bounds, for display.
pub const LATENCY_BUCKET_NAMES: [&str; LATENCY_BUCKETS] =
    ["0", "10µs", "100µs", "1ms", "10ms", "100ms", "1s", "10s", "100s"];

/// The zPages bucket of a duration.
///
/// ```
/// use throughline_viewer::{LATENCY_BUCKET_NAMES, latency_bucket};
///
/// assert_eq!(LATENCY_BUCKET_NAMES[latency_bucket(25_000_000)], "10ms"); // 25 ms
/// ```
pub fn latency_bucket(nanos: u64) -> usize {
    let mut bound = 10_000u64;
    for bucket in 0..LATENCY_BUCKETS - 1 {
        if nanos < bound {
            return bucket;
        }
        bound = bound.saturating_mul(10);
    }
    LATENCY_BUCKETS - 1
}

/// A service and the name of an entry span (a route template, for
/// throughline's server spans, such as `GET /orders/{id}`).
///
/// ```
/// let key = throughline_viewer::RouteKey::new("orders".into(), "GET /orders/{id}");
/// assert_eq!(&*key.route, "GET /orders/{id}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    /// `service.name`.
    pub service: Arc<str>,
    /// The span name.
    pub route: Arc<str>,
}

impl RouteKey {
    /// The key of a span of `service` named `route`.
    pub fn new(service: Arc<str>, route: &str) -> Self {
        Self { service, route: Arc::from(route) }
    }
}

/// Histogram buckets grow by 2^(1/4) (19 %) from 1 µs; 128 of them reach
/// past 4 hours. A percentile is reported as its bucket's upper bound, so
/// it is at most 19 % above the true value.
const HISTOGRAM_BUCKETS: usize = 128;
const WINDOW_SECONDS: usize = 60;

fn histogram_bucket(nanos: u64) -> usize {
    if nanos <= 1_000 {
        return 0;
    }
    let micros = nanos as f64 / 1_000.0;
    ((micros.log2() * 4.0).ceil() as usize).min(HISTOGRAM_BUCKETS - 1)
}

fn histogram_upper_nanos(bucket: usize) -> u64 {
    (2f64.powf(bucket as f64 / 4.0) * 1_000.0) as u64
}

#[derive(Clone, Debug)]
struct Route {
    count: u64,
    errors: u64,
    histogram: Box<[u32; HISTOGRAM_BUCKETS]>,
    /// Per second of span end time: (second, requests, errors).
    window: [(u64, u32, u32); WINDOW_SECONDS],
    latest_second: u64,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            count: 0,
            errors: 0,
            histogram: Box::new([0; HISTOGRAM_BUCKETS]),
            window: [(0, 0, 0); WINDOW_SECONDS],
            latest_second: 0,
        }
    }
}

/// One route's numbers, as the list page and `/api/routes` show them.
///
/// ```
/// let viewer = throughline_viewer::Viewer::default();
/// for route in viewer.routes() {
///     println!("{} {}: {:.1}/s, p99 {} ms", route.service, route.route, route.rate_per_second, route.p99_ms);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RouteSummary {
    /// `service.name`.
    pub service: String,
    /// The entry span's name.
    pub route: String,
    /// Entry spans seen since the start.
    pub count: u64,
    /// Of those, with an error status.
    pub errors: u64,
    /// Requests per second over the minute before the route's latest span ended.
    pub rate_per_second: f64,
    /// Errors over requests in that minute (0 to 1).
    pub error_ratio: f64,
    /// Median duration in milliseconds (the histogram bucket's upper bound).
    pub p50_ms: f64,
    /// 95th percentile in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
}

/// Statistics per route, for at most `max_routes` routes; the rest of a
/// service's routes are counted under `_OTHER`.
pub(crate) struct RouteStats {
    max_routes: usize,
    routes: HashMap<RouteKey, Route>,
}

impl RouteStats {
    pub(crate) fn new(max_routes: usize) -> Self {
        Self { max_routes, routes: HashMap::new() }
    }

    /// Counts one entry span; returns whether its route has statistics of
    /// its own (rather than `_OTHER`'s).
    pub(crate) fn record(&mut self, key: &RouteKey, nanos: u64, error: bool, end_unix_nanos: u64) -> bool {
        let own = self.routes.contains_key(key) || self.routes.len() < self.max_routes;
        let route = if own {
            self.routes.entry(key.clone()).or_default()
        } else {
            self.routes.entry(RouteKey::new(key.service.clone(), "_OTHER")).or_default()
        };
        route.count += 1;
        route.errors += u64::from(error);
        route.histogram[histogram_bucket(nanos)] += 1;
        let second = end_unix_nanos / 1_000_000_000;
        let slot = &mut route.window[(second % WINDOW_SECONDS as u64) as usize];
        if slot.0 != second {
            *slot = (second, 0, 0);
        }
        slot.1 += 1;
        slot.2 += u32::from(error);
        route.latest_second = route.latest_second.max(second);
        own
    }

    /// The services of the routes kept, `_OTHER`'s included; a service may
    /// come more than once.
    pub(crate) fn services(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(|key| &*key.service)
    }

    pub(crate) fn summaries(&self) -> Vec<RouteSummary> {
        let mut out: Vec<RouteSummary> = self
            .routes
            .iter()
            .map(|(key, route)| {
                let since = route.latest_second.saturating_sub(WINDOW_SECONDS as u64 - 1);
                let (requests, errors) = route
                    .window
                    .iter()
                    .filter(|(second, _, _)| *second >= since && *second <= route.latest_second)
                    .fold((0u64, 0u64), |(r, e), (_, n, x)| (r + u64::from(*n), e + u64::from(*x)));
                RouteSummary {
                    service: key.service.to_string(),
                    route: key.route.to_string(),
                    count: route.count,
                    errors: route.errors,
                    rate_per_second: requests as f64 / WINDOW_SECONDS as f64,
                    error_ratio: if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
                    p50_ms: percentile(route, 0.50),
                    p95_ms: percentile(route, 0.95),
                    p99_ms: percentile(route, 0.99),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.service, &a.route).cmp(&(&b.service, &b.route)));
        out
    }
}

fn percentile(route: &Route, q: f64) -> f64 {
    // Each request counted once in `count` and once in one bucket.
    let total = route.count;
    if total == 0 {
        return 0.0;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (bucket, &n) in route.histogram.iter().enumerate() {
        seen += u64::from(n);
        if seen >= rank {
            return histogram_upper_nanos(bucket) as f64 / 1e6;
        }
    }
    histogram_upper_nanos(HISTOGRAM_BUCKETS - 1) as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zpages_buckets() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(9_999), 0);
        assert_eq!(latency_bucket(10_000), 1);
        assert_eq!(latency_bucket(5_000_000), 3);
        assert_eq!(latency_bucket(1_000_000_000), 6);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn percentiles_within_a_bucket_of_the_truth() {
        let mut stats = RouteStats::new(10);
        let key = RouteKey::new("orders".into(), "GET /");
        for ms in 1..=100u64 {
            stats.record(&key, ms * 1_000_000, ms > 90, 1_000_000_000 * 100 + ms);
        }
        let summary = &stats.summaries()[0];
        assert_eq!((summary.count, summary.errors), (100, 10));
        for (got, want) in [(summary.p50_ms, 50.0), (summary.p95_ms, 95.0), (summary.p99_ms, 99.0)] {
            assert!(got >= want && got <= want * 1.19 + 0.01, "{got} for {want}");
        }
        assert!((summary.error_ratio - 0.1).abs() < 1e-9);
        assert!((summary.rate_per_second - 100.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn routes_past_the_limit_count_as_other() {
        let mut stats = RouteStats::new(2);
        for route in ["a", "b", "c", "d"] {
            stats.record(&RouteKey::new("s".into(), route), 1_000, false, 0);
        }
        let names: Vec<String> = stats.summaries().into_iter().map(|s| s.route).collect();
        assert_eq!(names, ["_OTHER", "a", "b"]);
    }
}
