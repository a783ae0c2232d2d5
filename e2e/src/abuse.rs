//! A bounded battery of bad requests, as an outside caller could send them:
//! malformed and oversized JSON, floods in the trace headers, a huge user
//! agent full of secret-like tokens, random bytes, unknown methods and
//! paths, an oversized sku.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::Value;

/// Secret-like tokens the battery sends in a user agent; none may reach
/// the collector or a log line.
pub const SECRETS: [&str; 4] =
    ["abuseTOKENa1b2c3d4e5", "4111111111111111", "mallory.abuse@example.com", "abuseSECRETz9y8x7"];

/// One bad request and what it got.
#[derive(Debug)]
pub struct Answer {
    /// What was sent, briefly.
    pub what: &'static str,
    /// The status, or `None` when the connection failed.
    pub status: Option<u16>,
    /// The body, parsed when it is JSON.
    pub body: Option<Value>,
}

impl Answer {
    /// Whether the answer is a 4xx whose body is `{"error": ..., "trace_id": ...}`.
    pub fn is_shaped_4xx(&self) -> bool {
        let shaped = self.body.as_ref().and_then(Value::as_object).is_some_and(|object| {
            object.len() == 2 && object["error"].is_string() && object.contains_key("trace_id")
        });
        self.status.is_some_and(|status| (400..500).contains(&status)) && shaped
    }
}

/// A user agent of about 200 KB, the secret-like tokens first (an
/// attribute keeps the first 4096 characters).
fn user_agent() -> String {
    let tokens = format!(
        "Mozilla/5.0 Bearer {} card {} mail {} /cb?access_token={} ",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3]
    );
    tokens.repeat(200 * 1024 / tokens.len())
}

/// Bytes that are no JSON, the same every run.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The battery's bodies and headers, built once, so that building them does
/// not weigh on the load the battery runs beside.
#[derive(Debug)]
pub struct Payloads {
    invalid: Bytes,
    malformed: Bytes,
    oversized: Bytes,
    long_sku: Bytes,
    random: Bytes,
    baggage: HeaderValue,
    user_agent: HeaderValue,
}

impl Payloads {
    /// Builds them.
    pub fn new() -> Self {
        let baggage: String = (0..10_000).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join(",");
        let long_sku = format!(r#"{{"sku": "{}", "quantity": 1, "amount_cents": 1}}"#, "s".repeat(280 << 10));
        Self {
            invalid: Bytes::from_static(br#"{"sku": "tea", "quantity": 0, "amount_cents": 450}"#),
            malformed: Bytes::from_static(br#"{"sku": "tea", "quantity": "#),
            oversized: Bytes::from(format!(r#"{{"sku": "{}"}}"#, "t".repeat(3 << 20))),
            long_sku: Bytes::from(long_sku),
            random: Bytes::from(random_bytes(64 << 10)),
            baggage: HeaderValue::from_str(&baggage).expect("visible ASCII"),
            user_agent: HeaderValue::from_str(&user_agent()).expect("visible ASCII"),
        }
    }
}

impl Default for Payloads {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends the battery once to orders at `url`, `pause` before each request:
/// every request is a client mistake (an invalid order rides with each
/// header flood). Use a client without connection reuse ([`client`]): a
/// server may close a connection after refusing a body.
pub async fn battery(
    client: &reqwest::Client,
    url: &str,
    payloads: &Payloads,
    pause: Duration,
) -> Vec<Answer> {
    let orders = format!("{url}/orders");
    let json =
        |body: &Bytes| client.post(&orders).header("content-type", "application/json").body(body.clone());
    let mut tracestate = json(&payloads.invalid);
    for i in 0..200 {
        tracestate = tracestate.header("tracestate", format!("k{i}=v"));
    }
    let user_agent = json(&payloads.invalid).header("user-agent", payloads.user_agent.clone());
    let requests: Vec<(&'static str, reqwest::RequestBuilder)> = vec![
        ("malformed JSON", json(&payloads.malformed)),
        ("a 3 MB JSON body", json(&payloads.oversized)),
        ("a 280 KB sku", json(&payloads.long_sku)),
        ("10,000 baggage members", json(&payloads.invalid).header("baggage", payloads.baggage.clone())),
        ("200 tracestate headers", tracestate),
        ("a 200 KB user agent full of secrets", user_agent),
        ("random bytes", json(&payloads.random)),
        ("an unknown method", client.request(reqwest::Method::from_bytes(b"PURGE").unwrap(), &orders)),
        ("an unknown path", client.get(format!("{url}/../admin/%00%ff"))),
    ];
    let mut answers = Vec::with_capacity(requests.len());
    for (what, request) in requests {
        tokio::time::sleep(pause).await;
        let answer = match request.timeout(Duration::from_secs(10)).send().await {
            Ok(response) => {
                let status = Some(response.status().as_u16());
                let body = response.bytes().await.ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
                Answer { what, status, body }
            }
            Err(_) => Answer { what, status: None, body: None },
        };
        answers.push(answer);
    }
    answers
}

/// The resident memory of process `pid`, in KiB (Linux's `VmRSS`).
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The 99th percentile of `times`.
pub fn p99(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get((times.len() * 99 / 100).min(times.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// A client for the battery: a fresh connection per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client without TLS settings")
}
