//! A real HTTP server on 127.0.0.1 that fails and slows down at seeded random
//! rates, then goes down, then recovers; a real hyper client behind the
//! policy. Checks what must hold under faults: no request retried unsafely,
//! retries within the budget, the breaker open during the outage and closed
//! after it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use throughline_resilience::circuit_breaker::{BreakerConfig, SlidingWindow};
use throughline_resilience::replay_body::{BufferBodyLayer, ReplayBody};
use throughline_resilience::retry::RetryConfig;
use throughline_resilience::{Backoff, CircuitOpen, CircuitState, HttpClassifier, Policy, RetryBudget};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, ServiceExt};

/// What the server saw: every request's id and method, in arrival order.
#[derive(Default)]
struct Faults {
    down: AtomicBool,
    rng: Mutex<Option<SmallRng>>,
    seen: Mutex<Vec<(String, Method)>>,
}

async fn serve(faults: Arc<Faults>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let id = request.headers()["x-request-id"].to_str().unwrap().to_owned();
    faults.seen.lock().unwrap().push((id, request.method().clone()));
    let (fail, slow) = {
        let mut rng = faults.rng.lock().unwrap();
        let rng = rng.get_or_insert_with(|| SmallRng::seed_from_u64(7));
        (rng.random_bool(0.15), rng.random_bool(0.1))
    };
    if slow {
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let status = if faults.down.load(Ordering::SeqCst) || fail { 503 } else { 200 };
    Ok(Response::builder().status(status).body(Full::new(Bytes::from_static(b"ok"))).unwrap())
}

async fn start_server(faults: Arc<Faults>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let faults = faults.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| serve(faults.clone(), request));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_retries_are_safe_and_budgeted_and_the_breaker_follows_the_outage() {
    let faults = Arc::new(Faults::default());
    let address = start_server(faults.clone()).await;
    let breaker = BreakerConfig::new("fault")
        .window(SlidingWindow::Count(20))
        .min_calls(10)
        .failure_rate(0.5)
        .open_duration(Duration::from_millis(200))
        .half_open_probes(2)
        .build()
        .unwrap();
    let budget = RetryBudget::new(0.2, 0).unwrap();
    let policy = Policy::builder("fault")
        .timeout(Duration::from_secs(5))
        .retry(
            RetryConfig::new("fault")
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(2)))
                .budget(budget),
        )
        .circuit_breaker(breaker.clone())
        .attempt_timeout(Duration::from_secs(1))
        .classifier(HttpClassifier::default())
        .build()
        .unwrap();
    let http: Client<_, ReplayBody<Full<Bytes>>> = Client::builder(TokioExecutor::new()).build_http();
    let client = ServiceBuilder::new().layer(BufferBodyLayer::new(1024)).layer(policy.layer()).service(http);

    let next_id = Arc::new(AtomicU64::new(0));
    let call = |method: Method| {
        let (mut client, next_id) = (client.clone(), next_id.clone());
        async move {
            let id = next_id.fetch_add(1, Ordering::SeqCst).to_string();
            let request = Request::builder()
                .method(method)
                .uri(format!("http://{address}/orders"))
                .header("x-request-id", id)
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap();
            client.ready().await.unwrap().call(request).await
        }
    };

    // Healthy, with random failures and slow answers: four callers at a time.
    for round in 0..40 {
        let methods = [Method::GET, Method::POST, Method::PUT, Method::GET];
        let calls = methods.map(|m| tokio::spawn(call(m)));
        for handle in calls {
            let _ = handle.await.unwrap();
        }
        assert_ne!(
            breaker.state(),
            CircuitState::Open,
            "round {round}: 15 % failures must not open a 50 % breaker"
        );
    }

    // Outage: every answer is 503. The breaker opens within the window.
    faults.down.store(true, Ordering::SeqCst);
    let mut rejected = 0;
    for _ in 0..40 {
        if let Err(error) = call(Method::GET).await {
            assert!(error.is::<CircuitOpen>(), "{error}");
            rejected += 1;
        }
    }
    assert!(rejected > 20, "most outage calls were rejected without reaching the server, got {rejected}");

    // Recovery: after the open duration, probes succeed and the breaker closes.
    faults.down.store(false, Ordering::SeqCst);
    let mut closed = false;
    for _ in 0..100 {
        let _ = call(Method::GET).await;
        if breaker.state() == CircuitState::Closed {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the breaker closes once the server is back");

    let seen = faults.seen.lock().unwrap();
    let mut sends: HashMap<&str, (usize, &Method)> = HashMap::new();
    for (id, method) in seen.iter() {
        sends.entry(id).or_insert((0, method)).0 += 1;
    }
    // No POST was ever sent twice.
    assert!(sends.values().all(|(n, m)| *n == 1 || *m != Method::POST));
    // Retries stayed within 20 % of calls, plus one in flight per concurrent caller.
    let calls = next_id.load(Ordering::SeqCst) as usize;
    let retries = seen.len() - sends.len();
    assert!(retries > 0, "the faults caused retries");
    assert!(retries <= calls / 5 + 4, "{retries} retries for {calls} calls");
}
