//! The demonstration (`cargo xtask demo`): the order system on 127.0.0.1, a
//! bounded load with payments failing for part of it, then one order's trace
//! as a waterfall, the retries and breaker transitions, and an excerpt of
//! `/metrics`. The collector is throughline-viewer, in this process: the
//! demo prints the URL of the trace it shows, and with `--serve` keeps the
//! viewer serving until Ctrl-C (the UI's address from
//! `THROUGHLINE_VIEWER_UI_ADDR`, else a free port). With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, telemetry goes to that collector instead.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use throughline::testing::ReceivedSpan;
use throughline_e2e::load::{self, Reply};
use throughline_e2e::system::{Options, System, kind, spans_of};
use throughline_e2e::viewer::RunningViewer;
use throughline_e2e::waterfall;

#[tokio::main]
async fn main() -> ExitCode {
    let mut serve = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--serve" => serve = true,
            _ => {
                eprintln!("usage: demo [--serve]   (--serve: keep the trace viewer up until Ctrl-C)");
                return ExitCode::from(2);
            }
        }
    }
    match tokio::time::timeout(Duration::from_secs(180), run()).await {
        Ok(Ok(Some(viewer))) if serve => {
            println!("\nthe trace viewer keeps serving on {}/ until Ctrl-C", viewer.url());
            viewer.serve_until_ctrl_c().await;
            ExitCode::SUCCESS
        }
        Ok(Ok(_)) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("demo: did not finish within 3 minutes");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<Option<RunningViewer>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let collector = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty());
    let viewer = match &collector {
        Some(_) => None,
        None => {
            let ui = match std::env::var("THROUGHLINE_VIEWER_UI_ADDR") {
                Ok(addr) if !addr.is_empty() => {
                    addr.parse().map_err(|e| format!("THROUGHLINE_VIEWER_UI_ADDR={addr:?}: {e}"))?
                }
                _ => ([127, 0, 0, 1], 0).into(),
            };
            Some(RunningViewer::start(ui).await?)
        }
    };
    let options = Options {
        collector: collector.clone(),
        viewer: viewer.as_ref().map(|v| v.addresses),
        payments_args: ["--latency-ms", "5..20", "--hang-ms", "2000"].map(String::from).to_vec(),
        orders_env: vec![("ORDERS_BREAKER_OPEN_MS", "1500".to_owned())],
        ..Options::default()
    };
    let system = System::start(options, dir.path()).await?;
    let client = reqwest::Client::new();
    println!("orders    {}  (pid {})", system.orders.url(), system.orders.pid());
    println!("payments  {}  (pid {})", system.payments.url(), system.payments.pid());
    println!("inventory {}  (pid {})", system.inventory.url(), system.inventory.pid());
    match &collector {
        Some(endpoint) => println!("telemetry -> {endpoint}\n"),
        None => println!("telemetry -> throughline-viewer, in this process\n"),
    }

    let healthy = phase("healthy", load::orders(&client, &system.orders.url(), 30, 4)).await;
    system
        .set_faults(
            &client,
            json!({"error_rate": 0.1, "timeout_rate": 0.1, "hang_ms": 2000, "latency_ms": [5, 20]}),
        )
        .await?;
    let chaos =
        phase("payments: 10% errors, 10% timeouts", load::orders(&client, &system.orders.url(), 100, 8))
            .await;
    system.set_faults(&client, json!({"outage_ms": 600_000})).await?;
    phase("payments down", load::orders(&client, &system.orders.url(), 30, 4)).await;
    system.set_faults(&client, json!({"latency_ms": [5, 20]})).await?;
    tokio::time::sleep(Duration::from_millis(1600)).await; // the breaker's open time
    phase("payments back", load::orders(&client, &system.orders.url(), 20, 2)).await;

    if let Some(viewer) = &viewer {
        // The most telling trace: an order whose charge needed a retry.
        println!("\n== one order's trace, across the three services ==\n");
        let charges = |spans: &[ReceivedSpan]| {
            spans_of(spans, "orders", kind::CLIENT).iter().filter(|s| s.name() == "POST /payments").count()
        };
        // Once the root of the last order's trace is in (orders' server span,
        // which ends last), the earlier traces are too.
        let last = chaos.iter().rev().find(|r| r.created()).unwrap_or(&healthy[0]);
        viewer
            .trace(&last.trace_id, Duration::from_secs(5), |s| {
                !spans_of(s, "orders", kind::SERVER).is_empty()
            })
            .await;
        let shown = chaos
            .iter()
            .chain(&healthy)
            .filter(|reply| reply.created())
            .map(|reply| (reply, viewer.spans(&reply.trace_id)))
            .find(|(reply, spans)| charges(spans) >= 2 || reply.trace_id == healthy[0].trace_id);
        match shown {
            Some((reply, spans)) => {
                println!(
                    "trace {} ({} charge attempts)\n{}",
                    reply.trace_id,
                    charges(&spans),
                    waterfall::render(&spans)
                );
                println!("in the viewer: {}\n", viewer.trace_url(&reply.trace_id));
            }
            None => println!("(no trace arrived)"),
        }
    }

    let metrics =
        client.get(format!("{}/metrics", system.orders.url())).send().await.map_err(|e| e.to_string())?;
    let metrics = metrics.text().await.map_err(|e| e.to_string())?;
    println!("== retries and circuit breaker transitions (orders' /metrics) ==\n");
    excerpt(
        &metrics,
        &[
            "resilience_retry_attempts_total",
            "resilience_circuit_breaker_transitions_total",
            "resilience_retry_budget",
        ],
    );
    println!("\n== an excerpt of /metrics ==\n");
    excerpt(
        &metrics,
        &[
            "http_server_request_duration_seconds_count",
            "http_client_request_duration_seconds_count",
            "resilience_calls_total",
        ],
    );

    let stats = system.payments_stats(&client).await?;
    println!(
        "\npayments received {} charge attempts for {} charges; {} notifications, {} sent twice",
        stats["charge_attempts"], stats["charges"], stats["notifications"], stats["repeated_notifications"]
    );
    // Orders first, so that it drains before its dependencies go.
    let mut system = system;
    for service in [&mut system.orders, &mut system.payments, &mut system.inventory] {
        service.terminate()?;
        service.wait(Duration::from_secs(15))?;
    }
    println!(
        "stopped orders, payments and inventory (SIGTERM by pid; each drained and flushed its telemetry)"
    );
    if let Some(viewer) = &viewer {
        let stats = viewer.viewer.stats();
        println!(
            "the trace viewer holds {} traces ({} spans, {} log records): {}/",
            stats.traces,
            stats.spans,
            stats.logs,
            viewer.url()
        );
    }
    Ok(viewer)
}

async fn phase(name: &str, load: impl Future<Output = Vec<Reply>>) -> Vec<Reply> {
    let replies = load.await;
    let created = replies.iter().filter(|r| r.created()).count();
    let mut by_status = std::collections::BTreeMap::new();
    for reply in &replies {
        *by_status.entry(reply.status.map_or("error".to_owned(), |s| s.to_string())).or_insert(0) += 1;
    }
    let mut times: Vec<Duration> = replies.iter().map(|r| r.elapsed).collect();
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "{name:<38} {created:>3}/{:<3} created  statuses {by_status:?}  median {median:.1?}",
        replies.len()
    );
    replies
}

/// The lines of these metrics, without the instrumentation-scope labels.
fn excerpt(metrics: &str, names: &[&str]) {
    for line in metrics.lines().filter(|l| !l.starts_with('#') && names.iter().any(|n| l.starts_with(n))) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let labels: Vec<&str> =
            labels.trim_end_matches('}').split(",").filter(|l| !l.starts_with("otel_scope")).collect();
        println!("  {name}{{{}}} {value}", labels.join(","));
    }
}
