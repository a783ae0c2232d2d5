//! The end-to-end test of the order system (`cargo xtask e2e`): real
//! processes on 127.0.0.1, an OTLP receiver, a real Prometheus. Every check
//! prints what it saw; the first failure stops the run, and every process
//! started is killed on the way out.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use throughline::testing::ReceivedSpan;
use throughline_e2e::abuse;
use throughline_e2e::load::{self, Reply};
use throughline_e2e::prometheus::Prometheus;
use throughline_e2e::system::{Options, System, descends_from, kind, spans_of};
use throughline_e2e::viewer::{Browser, RunningViewer, attribute, elements};

/// The whole run's bound: CI never hangs on it.
const BOUND: Duration = Duration::from_secs(300);

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        let holds: bool = $condition;
        if !holds {
            return Err(format!($($message)+));
        }
    };
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("e2e: FAILED: a temporary directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    let failure = match tokio::time::timeout(BOUND, checks(dir.path())).await {
        Ok(Ok(())) => {
            println!("e2e: all checks passed in {:.1?}", started.elapsed());
            return ExitCode::SUCCESS;
        }
        Ok(Err(error)) => error,
        Err(_) => format!("not finished within {BOUND:?}"),
    };
    // Every process is stopped by now (dropped with `checks`); their logs,
    // the database and Prometheus's data stay for the post-mortem.
    eprintln!("e2e: logs kept in {}", dir.keep().display());
    eprintln!("e2e: FAILED: {failure}");
    ExitCode::FAILURE
}

async fn checks(dir: &std::path::Path) -> Result<(), String> {
    // What the last step needs, found first so a machine without it fails early.
    let browser = Browser::find()?;
    let options = Options {
        payments_args: ["--latency-ms", "2..10", "--hang-ms", "2000"].map(String::from).to_vec(),
        orders_env: vec![("ORDERS_BREAKER_OPEN_MS", "1000".to_owned())],
        // A restarting replica's refusals, which orders' gRPC retries absorb.
        inventory_env: vec![("INVENTORY_UNAVAILABLE_EVERY", "7".to_owned())],
        // A second replica whose every 5th call takes 150 ms, which orders'
        // hedged reads outrun.
        slow_inventory_ms: Some(SLOW_REPLICA.as_millis() as u64),
        ..Options::default()
    };
    let mut system = System::start(options, dir).await?;
    let mut targets = vec![
        ("orders", system.orders.addr()),
        ("payments", system.payments.addr()),
        ("inventory", system.inventory.addr()),
    ];
    targets.extend(system.slow_inventory.as_ref().map(|slow| ("inventory-slow", slow.addr())));
    let prometheus = Prometheus::start(&targets, dir).await?;
    let client = reqwest::Client::new();

    step("one trace across orders, payments and inventory", trace_across_services(&system, &client)).await?;
    step("abuse while orders flow", abuse(&mut system, &client)).await?;
    step("chaos: 10% timeouts and 10% errors from payments", chaos(&system, &client)).await?;
    step("inventory refuses every 7th Reserve: each is retried", grpc_retries(&system)).await?;
    step("a slow inventory replica: hedged reads keep orders' tail", hedging(&system, &prometheus)).await?;
    step("payments outage: the breaker opens, then closes", outage(&system, &client)).await?;
    step("Prometheus scrapes the RED and resilience metrics", metrics(&prometheus)).await?;
    step("SIGTERM to orders under load", shutdown(&mut system)).await?;
    drop(system);
    step("the trace viewer as the collector, in a headless browser", viewer_in_browser(&browser, dir))
        .await?;
    Ok(())
}

async fn step(name: &str, check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    println!("e2e: {name} ...");
    let started = Instant::now();
    check.await.map_err(|error| format!("{name}: {error}"))?;
    println!("e2e: {name}: ok ({:.1?})", started.elapsed());
    Ok(())
}

/// One order: its trace holds orders' server span (child of the caller),
/// payments' and inventory's server spans below orders' client spans, with
/// the caller's tracestate and random flag, payments' with what is left of
/// orders' deadline, and each service's log lines carry the trace id.
async fn trace_across_services(system: &System, client: &reqwest::Client) -> Result<(), String> {
    let reply = load::order(client, &system.orders.url()).await;
    ensure!(reply.created(), "the order was not created: {reply:?}");
    let complete = |spans: &[_]| {
        ["orders", "payments", "inventory"]
            .iter()
            .all(|service| !spans_of(spans, service, kind::SERVER).is_empty())
    };
    let spans = system.trace(&reply.trace_id, Duration::from_secs(15), complete).await;
    ensure!(complete(&spans), "trace {} is incomplete: {:?}", reply.trace_id, names(&spans));

    let orders = spans_of(&spans, "orders", kind::SERVER)[0];
    ensure!(
        orders.parent_span_id().as_deref() == Some(reply.parent_id.as_str()),
        "orders' server span is not a child of the caller's span"
    );
    for service in ["payments", "inventory"] {
        for server in spans_of(&spans, service, kind::SERVER) {
            let parent = spans.iter().find(|s| Some(s.span_id()) == server.parent_span_id());
            let parent = parent
                .ok_or_else(|| format!("{service}'s span {:?} has no parent in the trace", server.name()))?;
            ensure!(
                parent.span.kind == kind::CLIENT
                    && throughline_e2e::waterfall::service_name(parent) == "orders",
                "{service}'s span {:?} is not a child of an orders client span",
                server.name()
            );
            ensure!(
                descends_from(&spans, parent, &orders.span_id()),
                "orders' client span is outside the request"
            );
            // What the caller's vendor put in the trace crossed orders whole:
            // every tracestate member, and the random flag.
            ensure!(
                server.span.trace_state == load::TRACESTATE,
                "{service} received tracestate {:?}, not {:?}",
                server.span.trace_state,
                load::TRACESTATE
            );
            ensure!(
                server.span.flags & 0xff == 0x03,
                "{service}'s span has trace flags {:02x}, not 03 (sampled, random)",
                server.span.flags & 0xff
            );
        }
    }
    // The deadline crosses the HTTP hop as it crosses the gRPC one: each
    // charge arrives with what is left of orders' 2 s payment budget.
    for charge in spans_of(&spans, "payments", kind::SERVER) {
        let budget = charge.attribute("http.request.header.request-timeout-ms").map(|v| format!("{v:?}"));
        let millis: Option<u64> = budget.as_deref().and_then(|text| {
            let digits: String =
                text.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
        ensure!(
            millis.is_some_and(|millis| millis > 0 && millis <= 2000),
            "payments' span {:?} did not receive orders' deadline: {budget:?}",
            charge.name()
        );
    }
    println!("{}", throughline_e2e::waterfall::render(&spans));

    // Inventory's lines are in whichever replica served the order.
    let inventory: Vec<_> = std::iter::once(&system.inventory).chain(&system.slow_inventory).collect();
    for replicas in [vec![&system.orders], vec![&system.payments], inventory] {
        let carries = || {
            replicas.iter().any(|service| {
                service
                    .log_lines()
                    .iter()
                    .any(|line| line.contains(&format!("\"trace_id\":\"{}\"", reply.trace_id)))
            })
        };
        let started = Instant::now();
        while !carries() && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ensure!(carries(), "no log line of {} carries trace {}", replicas[0].name(), reply.trace_id);
    }
    Ok(())
}

/// Under 10% timeouts and 10% 500s, retries recover what they may, within
/// the budget, and never repeat a POST without an idempotency key.
async fn chaos(system: &System, client: &reqwest::Client) -> Result<(), String> {
    const ORDERS: usize = 200;
    let before = system.payments_stats(client).await?;
    system
        .set_faults(client, json!({"error_rate": 0.1, "timeout_rate": 0.1, "hang_ms": 2000, "latency_ms": [2, 10], "seed": 7}))
        .await?;
    let started = Instant::now();
    let replies = load::orders(client, &system.orders.url(), ORDERS, 8).await;
    let elapsed = started.elapsed();
    system.set_faults(client, json!({"latency_ms": [2, 10]})).await?;
    let after = system.payments_stats(client).await?;
    let delta = |field: &str| count(&after, field) - count(&before, field);

    let created = replies.iter().filter(|r| r.created()).count();
    let (charges, notifies) = (delta("charge_attempts"), delta("notify_attempts"));
    let requests = ORDERS as u64 + notifies;
    let attempts = charges + notifies;
    println!(
        "  {created}/{ORDERS} orders created in {elapsed:.1?}; {charges} charge attempts, {notifies} notifications, {} repeated",
        delta("repeated_notifications")
    );
    // Each attempt fails with p = 0.2. Three attempts recover all but
    // 0.2^3 = 0.8% when the budget allows every retry; the budget (20% of
    // requests plus a reserve of 100) allows more than the 24% of retries
    // needed, so about 99% of orders are created; 90% leaves room for chance.
    ensure!(created * 10 >= ORDERS * 9, "only {created} of {ORDERS} orders were created; the bound is 90%");
    ensure!(charges > ORDERS as u64, "no charge was retried ({charges} attempts for {ORDERS} orders)");
    // The budget: retries add at most 20% of requests, plus its reserve of
    // 10 per second over its 10 s window (100). At this scale the reserve
    // dominates and the bound is loose (about 50 retries are needed); what it
    // rules out is a policy without a budget under a real outage, which the
    // breaker check below also covers.
    let bound = requests * 12 / 10 + 100;
    ensure!(attempts <= bound, "{attempts} attempts for {requests} requests exceed the budget's {bound}");
    // /notify has no Idempotency-Key: one attempt per paid order, never more.
    ensure!(
        notifies == created as u64,
        "{notifies} notifications for {created} paid orders: an unkeyed POST was retried"
    );
    ensure!(delta("repeated_notifications") == 0, "an order was notified twice");
    Ok(())
}

/// A battery of bad requests while normal orders flow: each bad request is
/// a 4xx in the one JSON error shape (200 `tracestate` lines may instead be
/// refused by HTTP itself, 431, before any handler runs), no process dies,
/// the normal orders' p99 stays within 2x of a run without the abuse,
/// orders' resident memory returns within 20% of its level before, and no
/// secret of the battery reaches the collector or a log line.
async fn abuse(system: &mut System, client: &reqwest::Client) -> Result<(), String> {
    const ORDERS: usize = 200;
    const ROUNDS: usize = 5;
    let url = system.orders.url();
    let baseline = load::orders(client, &url, ORDERS, 4).await;
    ensure!(baseline.iter().all(Reply::created), "an order failed before the abuse: {:?}", baseline[0]);
    let quiet = abuse::p99(baseline.iter().map(|r| r.elapsed).collect());
    let memory_before = abuse::resident_kib(system.orders.pid()).ok_or("orders' memory is unreadable")?;

    let flow = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { load::orders(&client, &url, ORDERS, 4).await }
    });
    // Bounded: a few rounds of the battery, paced, on a thread and runtime
    // of its own, so that the driver measuring the orders is not slowed by it.
    let battery = std::thread::spawn({
        let url = url.clone();
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let runtime = runtime.map_err(|e| e.to_string())?;
            let (client, payloads) = (abuse::client(), abuse::Payloads::new());
            Ok::<_, String>(runtime.block_on(async {
                let mut answers = Vec::new();
                for _ in 0..ROUNDS {
                    answers.extend(abuse::battery(&client, &url, &payloads, Duration::from_millis(20)).await);
                }
                answers
            }))
        }
    });
    let answers = tokio::task::spawn_blocking(move || battery.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the battery panicked".to_owned())??;
    let flow = flow.await.map_err(|e| e.to_string())?;
    let busy = abuse::p99(flow.iter().map(|r| r.elapsed).collect());
    println!("  {} bad requests; normal orders' p99 {quiet:.1?} before, {busy:.1?} during", answers.len());

    for answer in &answers {
        let refused_by_http = answer.what == "200 tracestate headers" && answer.status == Some(431);
        ensure!(
            answer.is_shaped_4xx() || refused_by_http,
            "{}: {:?} {:?}",
            answer.what,
            answer.status,
            answer.body
        );
    }
    for service in [&mut system.orders, &mut system.payments, &mut system.inventory] {
        ensure!(service.is_running(), "{} died under the abuse", service.name());
    }
    ensure!(
        flow.iter().all(Reply::created),
        "an order failed during the abuse: {:?}",
        flow.iter().find(|r| !r.created())
    );
    ensure!(busy <= quiet * 2, "normal orders' p99 went from {quiet:?} to {busy:?} under the abuse");

    // Memory: after another quiet run, back within 20% of where it was.
    load::orders(client, &url, ORDERS, 4).await;
    let memory_after = abuse::resident_kib(system.orders.pid()).ok_or("orders' memory is unreadable")?;
    println!("  orders' resident memory {memory_before} KiB before, {memory_after} KiB after");
    ensure!(
        memory_after * 10 <= memory_before * 12,
        "orders kept {memory_after} KiB, from {memory_before} KiB"
    );

    // Secrets: not in what the collector received, nor in any log line.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received =
        system.receiver.as_ref().map(|r| format!("{:?} {:?}", r.spans(), r.logs())).unwrap_or_default();
    let logs: String = [&system.orders, &system.payments, &system.inventory]
        .iter()
        .flat_map(|service| service.log_lines())
        .collect();
    for secret in abuse::SECRETS {
        ensure!(!received.contains(secret), "{secret} reached the collector");
        ensure!(!logs.contains(secret), "{secret} reached a log line");
    }
    ensure!(
        received.contains("Mozilla/5.0 Bearer [REDACTED]"),
        "the user agent was not recorded, so the check proves nothing"
    );
    Ok(())
}

/// A full payments outage: the breaker opens and orders answers at once
/// with 503 and Retry-After, without calling payments, while staying ready
/// (it still serves reads); after recovery the breaker's probes succeed and
/// it closes.
async fn outage(system: &System, client: &reqwest::Client) -> Result<(), String> {
    const ORDERS: usize = 60;
    let before = system.payments_stats(client).await?;
    system.set_faults(client, json!({"outage_ms": 600_000})).await?;
    let replies = load::orders(client, &system.orders.url(), ORDERS, 4).await;
    let attempts =
        count(&system.payments_stats(client).await?, "charge_attempts") - count(&before, "charge_attempts");
    let rejected: Vec<&Reply> =
        replies.iter().filter(|r| r.status == Some(503) && r.body.contains("payments unavailable")).collect();
    println!(
        "  {} of {ORDERS} orders refused by the open breaker; {attempts} charge attempts reached payments",
        rejected.len()
    );
    ensure!(rejected.len() >= ORDERS / 2, "the breaker did not open: {:?}", replies.first());
    ensure!(
        attempts < ORDERS as u64,
        "{attempts} attempts reached payments for {ORDERS} orders: the breaker did not stop them"
    );
    let mut times: Vec<Duration> = rejected.iter().map(|r| r.elapsed).collect();
    times.sort();
    println!("  median time to refuse: {:.1?}; {}", times[times.len() / 2], rejected[0].body);
    let ready = client
        .get(format!("{}/health/ready", system.orders.url()))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    ensure!(ready.status() == 200, "orders turned unready with its payments breaker open");

    system.set_faults(client, json!({"latency_ms": [2, 10]})).await?;
    let started = Instant::now();
    loop {
        let created = load::order(client, &system.orders.url()).await.created();
        if created {
            println!("  closed again {:.1?} after payments recovered", started.elapsed());
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "the breaker did not close within 15 s of recovery"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// PromQL over what Prometheus scraped from the three services.
/// Orders so far met inventory refusing every 7th `Reserve` trailers-only
/// `UNAVAILABLE`: each refused attempt is a failed client span, followed in
/// its trace by a retry (`previous-rpc-attempts` = 1, under the retry layer's
/// `resilience.attempt` span) that inventory served.
async fn grpc_retries(system: &System) -> Result<(), String> {
    let receiver = system.receiver.as_ref().ok_or("the step reads the local receiver's spans")?;
    let spans = receiver.spans();
    let reserves: Vec<_> = spans_of(&spans, "orders", kind::CLIENT)
        .into_iter()
        .filter(|span| span.name() == "inventory.v1.Inventory/Reserve")
        .collect();
    let retries: Vec<_> = reserves
        .iter()
        .filter(|span| span.attribute("previous-rpc-attempts").and_then(|v| v.as_i64()) == Some(1))
        .collect();
    println!("  {} Reserve attempts, {} of them retries", reserves.len(), retries.len());
    ensure!(reserves.len() >= 7, "too few Reserve calls to see a refusal: {}", reserves.len());
    ensure!(!retries.is_empty(), "no Reserve was retried, though inventory refused every 7th");
    for retry in &retries {
        let refused = reserves.iter().any(|span| span.trace_id() == retry.trace_id() && span.is_error());
        ensure!(refused, "retry {} has no refused attempt in its trace", retry.span_id());
        // Each retry runs in the retry layer's `resilience.attempt` span.
        let attempt = spans.iter().find(|span| Some(span.span_id()) == retry.parent_span_id());
        let second = attempt.is_some_and(|span| {
            span.name() == "resilience.attempt"
                && span.attribute("resilience.attempt").and_then(|v| v.as_i64()) == Some(2)
        });
        ensure!(
            second,
            "retry {} is not under its resilience.attempt span (attempt 2) but {:?}",
            retry.span_id(),
            attempt.map(|span| (span.name(), span.attribute("resilience.attempt")))
        );
        let served = spans_of(&spans, "inventory", kind::SERVER)
            .into_iter()
            .any(|server| server.parent_span_id().as_deref() == Some(retry.span_id().as_str()));
        ensure!(served, "retry {} did not reach inventory's handler", retry.span_id());
    }
    Ok(())
}

/// How long the slow inventory replica takes over every call.
const SLOW_REPLICA: Duration = Duration::from_millis(150);

/// Every order so far asked inventory for `Available` over a channel balanced
/// across a fast replica and one whose every 5th call takes 150 ms: about
/// one call in ten is slow, which sets the p99 without hedging. The hedge
/// (after 25 ms, from a budget of 20 % of calls) cuts the p99 below the slow
/// calls' latency, within its budget; the traces show the winning hedges.
async fn hedging(system: &System, prometheus: &Prometheus) -> Result<(), String> {
    let within = Duration::from_secs(15);
    let method = r#"job="orders",rpc_method="inventory.v1.Inventory/Available""#;
    let calls_query = format!("sum(rpc_client_call_duration_seconds_count{{{method}}})");
    let calls = prometheus
        .query_until(&calls_query, within, |s| s.first().is_some_and(|s| s.value() >= 200.0))
        .await?;
    let calls = calls.first().map_or(0.0, |s| s.value());
    let hedged = |what: &str| {
        format!(r#"sum(resilience_hedge_{what}_total{{job="orders",resilience_name="inventory-available"}})"#)
    };
    let sent = prometheus.query(&hedged("sent")).await?.first().map_or(0.0, |s| s.value());
    let won = prometheus.query(&hedged("won")).await?.first().map_or(0.0, |s| s.value());
    let p99_query = format!(
        "histogram_quantile(0.99, sum by (le) (rpc_client_call_duration_seconds_bucket{{{method}}}))"
    );
    let p99 = prometheus.query(&p99_query).await?.first().map_or(f64::NAN, |s| s.value());
    println!(
        "  {calls} Available calls, {sent} hedges sent, {won} won; p99 {:.1} ms ({p99_query})",
        p99 * 1000.0
    );
    ensure!(won >= 1.0, "no hedge won, so the slow replica was never outrun");
    // The budget: 20 % of the calls, plus its reserve of 10 per second over 10 s.
    ensure!(sent <= calls * 0.2 + 100.0, "{sent} hedges for {calls} calls: over the budget");
    ensure!(
        p99 < SLOW_REPLICA.as_secs_f64(),
        "the p99 of Available, {p99} s, is not below the slow replica's {SLOW_REPLICA:?}"
    );

    let receiver = system.receiver.as_ref().ok_or("the step reads the local receiver's spans")?;
    let winners = receiver
        .spans()
        .iter()
        .filter(|span| span.name() == "resilience.hedge")
        .filter(|span| {
            span.attribute("resilience.hedge.winner") == Some(throughline::testing::Value::Bool(true))
        })
        .count();
    ensure!(winners >= 1, "no resilience.hedge span is marked the winner");
    println!("  {winners} winning hedges in the traces");
    Ok(())
}

async fn metrics(prometheus: &Prometheus) -> Result<(), String> {
    let within = Duration::from_secs(15);
    let expect = [
        (
            "orders' request durations",
            r#"sum(http_server_request_duration_seconds_count{job="orders",http_route="/orders",http_request_method="POST"})"#,
            240.0,
        ),
        (
            "payments' request durations",
            r#"sum(http_server_request_duration_seconds_count{job="payments",http_route="/payments"})"#,
            200.0,
        ),
        (
            "orders' client durations",
            r#"sum(http_client_request_duration_seconds_count{job="orders",http_request_method="POST"})"#,
            200.0,
        ),
        (
            "inventory's gRPC durations",
            r#"sum(rpc_server_call_duration_seconds_count{job="inventory"})"#,
            240.0,
        ),
        (
            "retries of payments",
            r#"sum(resilience_retry_attempts_total{job="orders",resilience_name="payments"})"#,
            1.0,
        ),
        (
            "retries of inventory (gRPC)",
            r#"sum(resilience_retry_attempts_total{job="orders",resilience_name="inventory",resilience_retry_reason="grpc_status"})"#,
            1.0,
        ),
        (
            "breaker openings",
            r#"sum(resilience_circuit_breaker_transitions_total{job="orders",resilience_circuit_breaker_to="open"})"#,
            1.0,
        ),
        (
            "breaker closings",
            r#"sum(resilience_circuit_breaker_transitions_total{job="orders",resilience_circuit_breaker_to="closed"})"#,
            1.0,
        ),
        ("database calls", r#"sum(resilience_calls_total{job="orders",resilience_name="orders-db"})"#, 240.0),
    ];
    for (what, query, at_least) in expect {
        let samples = prometheus
            .query_until(query, within, |s| s.first().is_some_and(|s| s.value() >= at_least))
            .await?;
        let value = samples.first().map_or(0.0, |s| s.value());
        println!("  {what}: {value}  ({query})");
        ensure!(value >= at_least, "{what}: {query} is {value}, expected at least {at_least}");
    }
    // Over the counts since start: the run is shorter than a rate window.
    let quantile = r#"histogram_quantile(0.95, sum by (le) (http_server_request_duration_seconds_bucket{job="orders",http_route="/orders"}))"#;
    let p95 = prometheus.query(quantile).await?.first().map_or(f64::NAN, |s| s.value());
    println!("  orders' p95 latency: {:.1} ms", p95 * 1000.0);
    ensure!(p95.is_finite() && p95 > 0.0, "the p95 of orders' latency is {p95}");
    let statuses = prometheus
        .query(r#"sum by (http_response_status_code) (http_server_request_duration_seconds_count{job="orders",http_route="/orders"})"#)
        .await?;
    let codes: Vec<&str> = statuses.iter().map(|s| s.label("http_response_status_code")).collect();
    ensure!(
        codes.contains(&"201") && codes.contains(&"503"),
        "orders' status codes are {codes:?}; expected 201 and 503"
    );
    Ok(())
}

/// SIGTERM during load: requests already in progress complete, new ones are
/// refused, the process exits cleanly, and every span reaches the receiver.
async fn shutdown(system: &mut System) -> Result<(), String> {
    let client = reqwest::Client::new();
    // Slow enough that orders are in flight at SIGTERM, within the attempt timeout.
    system.set_faults(&client, json!({"latency_ms": [150, 150]})).await?;
    // A connection per request: a new request after SIGTERM meets a closed
    // listener rather than a pooled connection being closed.
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().map_err(|e| e.to_string())?;
    let before = count(&system.payments_stats(&client).await?, "charge_attempts");
    let url = system.orders.url();
    let load = tokio::spawn(async move { load::orders(&fresh, &url, 60, 6).await });
    let started = Instant::now();
    while count(&system.payments_stats(&client).await?, "charge_attempts") < before + 6 {
        ensure!(started.elapsed() < Duration::from_secs(10), "the load did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    system.orders.terminate()?;
    let replies = load.await.map_err(|e| e.to_string())?;
    let status = system.orders.wait(Duration::from_secs(20))?;
    ensure!(status.success(), "orders exited with {status}");

    let answered: Vec<&Reply> = replies.iter().filter(|r| r.status.is_some()).collect();
    let refused = replies.len() - answered.len();
    println!("  {} orders answered, {refused} refused after SIGTERM", answered.len());
    ensure!(
        answered.iter().all(|r| r.created()),
        "an in-flight order did not complete: {:?}",
        answered.iter().find(|r| !r.created())
    );
    ensure!(answered.len() >= 6, "only {} orders were answered", answered.len());
    ensure!(refused > 0, "no order was refused after SIGTERM");
    // Every span of a completed order: orders' server span and the client
    // spans and statements below it, and the server spans of payments and
    // inventory, some of which end while orders drains.
    let expected: [(&str, i32, &str); 6] = [
        ("orders", kind::SERVER, "POST /orders"),
        ("orders", kind::CLIENT, "POST /payments"),
        ("orders", kind::CLIENT, "POST /notify"),
        ("orders", kind::CLIENT, "inventory.v1.Inventory/Reserve"),
        ("payments", kind::SERVER, "POST /payments"),
        ("inventory", kind::SERVER, "inventory.v1.Inventory/Reserve"),
    ];
    let missing = |spans: &[ReceivedSpan]| {
        expected
            .iter()
            .find(|(service, kind, name)| !spans_of(spans, service, *kind).iter().any(|s| s.name() == *name))
    };
    for reply in &answered {
        let spans = system.trace(&reply.trace_id, Duration::from_secs(10), |s| missing(s).is_none()).await;
        ensure!(missing(&spans).is_none(), "trace {}: {:?} never arrived", reply.trace_id, missing(&spans));
        let statements = spans.iter().filter(|s| s.name() == "db.statement").count();
        ensure!(statements == 2, "trace {}: {statements} of 2 database statements arrived", reply.trace_id);
    }
    let Some(receiver) = &system.receiver else { return Ok(()) };
    // Every log record: each completed order's "order paid" line, in its trace.
    let logs = receiver.logs();
    for reply in &answered {
        let paid = logs.iter().any(|log| {
            log.trace_id().as_deref() == Some(reply.trace_id.as_str())
                && log.body().as_deref() == Some("order paid")
        });
        ensure!(paid, "trace {}: orders' \"order paid\" log record never arrived", reply.trace_id);
    }
    // Every metric point: the last export of orders' request durations counts
    // as many POST /orders as orders' server spans the receiver holds.
    let spans = receiver.spans();
    let traced =
        spans_of(&spans, "orders", kind::SERVER).iter().filter(|s| s.name() == "POST /orders").count();
    let measured = receiver
        .metrics()
        .iter()
        .rfind(|m| {
            m.name() == "http.server.request.duration"
                && m.resource_attribute("service.name").and_then(|v| v.as_str().map(str::to_owned)).as_deref()
                    == Some("orders")
        })
        .map(post_orders_count);
    println!(
        "  POST /orders: {traced} server spans, {measured:?} in orders' last exported request durations"
    );
    ensure!(
        measured == Some(traced as u64),
        "orders' final metrics count {measured:?} requests, its spans {traced}"
    );
    Ok(())
}

/// The requests a duration histogram counted on `POST /orders`, over every status.
fn post_orders_count(metric: &throughline::testing::ReceivedMetric) -> u64 {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let Some(Data::Histogram(histogram)) = &metric.metric.data else { return 0 };
    let is = |point: &opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint, key: &str, value: &str| {
        point.attributes.iter().any(|kv| {
            kv.key == key && matches!(&kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(Any::StringValue(s)) if s == value)
        })
    };
    histogram
        .data_points
        .iter()
        .filter(|p| is(p, "http.route", "/orders") && is(p, "http.request.method", "POST"))
        .map(|p| p.count)
        .sum()
}

fn count(stats: &Value, field: &str) -> u64 {
    stats[field].as_u64().unwrap_or(0)
}

fn names(spans: &[ReceivedSpan]) -> Vec<String> {
    spans.iter().map(|s| format!("{}:{}", throughline_e2e::waterfall::service_name(s), s.name())).collect()
}

/// The order system exports to throughline-viewer; headless Chromium loads
/// its pages, and the DOM it built must show the three services, one
/// order's trace in parent order with a retry marked, and a failed order's
/// error highlighted. A screenshot of each page is kept.
async fn viewer_in_browser(browser: &Browser, dir: &std::path::Path) -> Result<(), String> {
    let running = RunningViewer::start(([127, 0, 0, 1], 0).into()).await?;
    let logs = dir.join("viewer");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let options = Options {
        viewer: Some(running.addresses),
        payments_args: ["--latency-ms", "2..10", "--hang-ms", "2000"].map(String::from).to_vec(),
        orders_env: vec![("ORDERS_BREAKER_OPEN_MS", "1000".to_owned())],
        ..Options::default()
    };
    let system = System::start(options, &logs).await?;
    let client = reqwest::Client::new();
    let url = system.orders.url();
    let mut replies = load::orders(&client, &url, 5, 2).await;
    // Half the charges fail: orders retries them, and most orders succeed.
    system.set_faults(&client, json!({"error_rate": 0.5, "latency_ms": [2, 10]})).await?;
    replies.extend(load::orders(&client, &url, 20, 2).await);
    // Every charge fails: orders fail.
    system.set_faults(&client, json!({"error_rate": 1.0})).await?;
    let failing = load::orders(&client, &url, 3, 1).await;
    system.set_faults(&client, json!({})).await?;

    let complete = |spans: &[ReceivedSpan]| {
        ["orders", "payments", "inventory"].iter().all(|s| !spans_of(spans, s, kind::SERVER).is_empty())
    };
    let charges = |spans: &[ReceivedSpan]| {
        spans_of(spans, "orders", kind::CLIENT).iter().filter(|s| s.name() == "POST /payments").count()
    };
    let mut retried = None;
    for reply in replies.iter().rev().filter(|r| r.created()) {
        let spans = running.trace(&reply.trace_id, Duration::from_secs(10), complete).await;
        if complete(&spans) && charges(&spans) >= 2 {
            retried = Some((reply.trace_id.clone(), spans));
            break;
        }
    }
    let (retried, spans) = retried.ok_or("no created order's trace holds a retried charge")?;
    let failed = failing.iter().find(|r| !r.created()).ok_or("no order failed while every charge failed")?;
    let has_error = |spans: &[ReceivedSpan]| spans.iter().any(ReceivedSpan::is_error);
    let failed_spans = running.trace(&failed.trace_id, Duration::from_secs(10), has_error).await;
    ensure!(has_error(&failed_spans), "the failed order's trace holds no error: {:?}", names(&failed_spans));

    // The list: the three services in the filter, the trace among the rows.
    let list = browser.dom(&format!("{}/", running.url())).await?;
    for service in ["orders", "payments", "inventory"] {
        ensure!(list.contains(&format!("<option>{service}</option>")), "the list offers no {service} filter");
        ensure!(
            elements(&list, "tr", "route").iter().any(|r| attribute(r, "data-service") == Some(service)),
            "the list shows no route of {service}"
        );
    }
    ensure!(
        elements(&list, "tr", "trace")
            .iter()
            .any(|r| attribute(r, "data-trace-id") == Some(retried.as_str())),
        "the list does not show trace {retried}"
    );

    // The retried order: every span, each after its parent, services and the retry marked.
    let page = browser.dom(&running.trace_url(&retried)).await?;
    let rows = elements(&page, "details", "span");
    ensure!(rows.len() == spans.len(), "the page shows {} of the trace's {} spans", rows.len(), spans.len());
    let mut seen: Vec<&str> = Vec::new();
    for row in &rows {
        let id = attribute(row, "data-span-id").unwrap_or_default();
        let parent = attribute(row, "data-parent-id").unwrap_or_default();
        let parent_in_trace = spans.iter().any(|s| s.span_id() == parent);
        ensure!(!parent_in_trace || seen.contains(&parent), "span {id} comes before its parent {parent}");
        seen.push(id);
    }
    for service in ["orders", "payments", "inventory"] {
        ensure!(
            rows.iter().any(|r| attribute(r, "data-service") == Some(service)),
            "the trace page shows no span of {service}"
        );
    }
    let payments_server = rows
        .iter()
        .find(|r| {
            attribute(r, "data-service") == Some("payments") && attribute(r, "data-kind") == Some("server")
        })
        .ok_or("no payments server span on the page")?;
    let caller = attribute(payments_server, "data-parent-id").unwrap_or_default();
    ensure!(
        rows.iter().any(|r| attribute(r, "data-span-id") == Some(caller)
            && attribute(r, "data-service") == Some("orders")
            && attribute(r, "data-kind") == Some("client")),
        "payments' server span is not under an orders client span"
    );
    ensure!(
        elements(&page, "details", "retry").iter().any(|r| attribute(r, "data-kind") == Some("client"))
            && page.contains("retry #1"),
        "no retried client span is marked on trace {retried}"
    );

    // The failed order: its error highlighted.
    let failed_page = browser.dom(&running.trace_url(&failed.trace_id)).await?;
    ensure!(
        !elements(&failed_page, "details", "error").is_empty(),
        "no span of the failed order is marked an error"
    );
    ensure!(failed_page.contains("id=\"trace-errors\""), "the failed order's page does not count its errors");

    // Screenshots, kept beside the build (the run's directory goes when all passes).
    let shots = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("e2e-screenshots")))
        .unwrap_or_else(|| dir.join("screenshots"));
    std::fs::create_dir_all(&shots).map_err(|e| format!("{}: {e}", shots.display()))?;
    for (name, url, height) in [
        ("viewer-list.png", format!("{}/", running.url()), 900),
        ("viewer-trace.png", running.trace_url(&retried), 700),
        ("viewer-failed-trace.png", running.trace_url(&failed.trace_id), 500),
    ] {
        browser.screenshot(&url, &shots.join(name), 1400, height).await?;
    }
    println!(
        "  viewer: {} traces; trace {retried} ({} spans, {} charges) and failed order {}; screenshots in {}",
        running.viewer.stats().traces,
        spans.len(),
        charges(&spans),
        failed.trace_id,
        shots.display()
    );
    Ok(())
}
