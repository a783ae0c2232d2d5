//! The cases of the official W3C Trace Context test suite (`w3c/trace-context`,
//! `test/test.py`, strict level 2), ported case by case with the suite's names,
//! against the service over real sockets on 127.0.0.1.
//!
//! Like the official harness, each case sends raw header lines (names in any
//! case, repeated fields, whitespace kept) to the service and inspects the
//! headers of the callbacks the service makes to the harness. The harness side
//! checks what it receives with its own grammar, not with throughline's parser.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Headers = Vec<(String, String)>;

/// The service under test and a harness receiving its callbacks.
struct Harness {
    service: SocketAddr,
    harness: SocketAddr,
    callbacks: Arc<Mutex<BTreeMap<String, Headers>>>,
}

static SCOPE: AtomicUsize = AtomicUsize::new(0);

impl Harness {
    async fn start() -> Self {
        let service = serve(w3c_conformance::app()).await;
        let callbacks = Arc::new(Mutex::new(BTreeMap::new()));
        let harness =
            serve(Router::new().route("/callback/{id}", post(record)).with_state(callbacks.clone())).await;
        Self { service, harness, callbacks }
    }

    /// Sends `headers` to the service, asking for `count` callbacks, and
    /// returns the headers of each callback.
    async fn make_request(&self, headers: &[(&str, &str)], count: usize) -> Vec<Headers> {
        let scope = SCOPE.fetch_add(1, Ordering::Relaxed);
        let actions: Vec<String> = (0..count)
            .map(|i| format!(r#"{{"url": "http://{}/callback/{scope}.{i}", "arguments": []}}"#, self.harness))
            .collect();
        let body = format!("[{}]", actions.join(","));
        let status = post_raw(self.service, "/test", headers, body.as_bytes()).await;
        assert_eq!(status, 200, "the service must answer 200");
        let callbacks = self.callbacks.lock().unwrap();
        (0..count)
            .map(|i| {
                callbacks
                    .get(&format!("{scope}.{i}"))
                    .cloned()
                    .unwrap_or_else(|| panic!("the service made no callback {i} for {headers:?}"))
            })
            .collect()
    }

    async fn single(&self, headers: &[(&str, &str)]) -> (Traceparent, Tracestate) {
        let callback = self.make_request(headers, 1).await.remove(0);
        (get_traceparent(&callback), get_tracestate(&callback))
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn record(
    State(callbacks): State<Arc<Mutex<BTreeMap<String, Headers>>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> &'static str {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("<not ascii>").to_owned()))
        .collect();
    callbacks.lock().unwrap().insert(id, headers);
    "null"
}

/// An HTTP/1.1 POST written byte by byte, as the harness's client would send
/// it: header names keep their case, repeated and empty fields are kept.
async fn post_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let status_line = String::from_utf8_lossy(&response);
    status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

/// A `traceparent` as the harness reads it:
/// `^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`.
#[derive(Debug)]
struct Traceparent {
    trace_id: String,
    parent_id: String,
}

fn get_traceparent(headers: &Headers) -> Traceparent {
    let found: Vec<&String> =
        headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("traceparent")).map(|(_, v)| v).collect();
    assert_eq!(found.len(), 1, "expect one traceparent header, got {found:?}");
    let parts: Vec<&str> = found[0].split('-').collect();
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert!(
        parts.len() == 4
            && lower_hex(parts[0], 2)
            && lower_hex(parts[1], 32)
            && lower_hex(parts[2], 16)
            && lower_hex(parts[3], 2),
        "malformed traceparent {:?}",
        found[0]
    );
    Traceparent { trace_id: parts[1].to_owned(), parent_id: parts[2].to_owned() }
}

/// A `tracestate` as the harness reads it: every sent member must match its
/// grammar, and a repeated key keeps its first value.
#[derive(Debug, Default)]
struct Tracestate(Vec<(String, String)>);

impl Tracestate {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn joined(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }
}

fn get_tracestate(headers: &Headers) -> Tracestate {
    let mut state = Tracestate::default();
    for (_, value) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("tracestate")) {
        assert!(!value.is_empty(), "an empty tracestate header was sent");
        for member in value.split(',').map(|m| m.trim_matches([' ', '\t'])) {
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=').expect("member without '='");
            assert!(harness_key(key), "illegal key sent: {key:?}");
            assert!(harness_value(value), "illegal value sent: {value:?}");
            if state.get(key).is_none() {
                state.0.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    state
}

fn harness_key(key: &str) -> bool {
    let keychar = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/".contains(&b);
    let part = |s: &str, max: usize, first: &dyn Fn(u8) -> bool| {
        !s.is_empty() && s.len() <= max && first(s.as_bytes()[0]) && s.bytes().all(keychar)
    };
    match key.split_once('@') {
        None => part(key, 256, &|b| b.is_ascii_lowercase()),
        Some((tenant, system)) => {
            part(tenant, 241, &|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && part(system, 14, &|b| b.is_ascii_lowercase())
        }
    }
}

fn harness_value(value: &str) -> bool {
    let chr = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    !value.is_empty() && value.len() <= 256 && !value.ends_with(' ') && value.bytes().all(chr)
}

const ID: &str = "12345678901234567890123456789012";

async fn assert_restarts(harness: &Harness, traceparent: &str) {
    let (tp, _) = harness.single(&[("traceparent", traceparent)]).await;
    assert_ne!(tp.trace_id, ID, "{traceparent:?} must restart the trace");
}

async fn assert_continues(harness: &Harness, headers: &[(&str, &str)]) {
    let (tp, _) = harness.single(headers).await;
    assert_eq!(tp.trace_id, ID, "{headers:?} must continue the trace");
}

// --- TraceContextTest -------------------------------------------------------

#[tokio::test]
async fn test_both_traceparent_and_tracestate_missing() {
    let harness = Harness::start().await;
    harness.single(&[]).await;
}

#[tokio::test]
async fn test_traceparent_included_tracestate_missing() {
    let harness = Harness::start().await;
    let (tp, _) =
        harness.single(&[("traceparent", "00-12345678901234567890123456789012-1234567890123456-01")]).await;
    assert_eq!(tp.trace_id, ID);
    assert_ne!(tp.parent_id, "1234567890123456");
}

#[tokio::test]
async fn test_traceparent_duplicated() {
    let harness = Harness::start().await;
    let (tp, _) = harness
        .single(&[
            ("traceparent", "00-12345678901234567890123456789011-1234567890123456-01"),
            ("traceparent", "00-12345678901234567890123456789012-1234567890123456-01"),
        ])
        .await;
    assert_ne!(tp.trace_id, "12345678901234567890123456789011");
    assert_ne!(tp.trace_id, ID);
}

#[tokio::test]
async fn test_traceparent_header_name() {
    let harness = Harness::start().await;
    for name in ["trace-parent", "trace.parent"] {
        let (tp, _) =
            harness.single(&[(name, "00-12345678901234567890123456789012-1234567890123456-01")]).await;
        assert_ne!(tp.trace_id, ID);
    }
}

#[tokio::test]
async fn test_traceparent_header_name_valid_casing() {
    let harness = Harness::start().await;
    for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        assert_continues(&harness, &[(name, "00-12345678901234567890123456789012-1234567890123456-01")])
            .await;
    }
}

#[tokio::test]
async fn test_traceparent_version_0x00() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-1234567890123456-01.").await;
    assert_restarts(
        &harness,
        "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_version_0xcc() {
    let harness = Harness::start().await;
    assert_continues(&harness, &[("traceparent", "cc-12345678901234567890123456789012-1234567890123456-01")])
        .await;
    assert_continues(
        &harness,
        &[(
            "traceparent",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        )],
    )
    .await;
    assert_restarts(
        &harness,
        "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_version_0xff() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "ff-12345678901234567890123456789012-1234567890123456-01").await;
}

#[tokio::test]
async fn test_traceparent_version_illegal_characters() {
    let harness = Harness::start().await;
    assert_restarts(&harness, ".0-12345678901234567890123456789012-1234567890123456-01").await;
    assert_restarts(&harness, "0.-12345678901234567890123456789012-1234567890123456-01").await;
}

#[tokio::test]
async fn test_traceparent_version_too_long() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "000-12345678901234567890123456789012-1234567890123456-01").await;
    assert_restarts(&harness, "0000-12345678901234567890123456789012-1234567890123456-01").await;
}

#[tokio::test]
async fn test_traceparent_version_too_short() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "0-12345678901234567890123456789012-1234567890123456-01").await;
}

#[tokio::test]
async fn test_traceparent_trace_id_all_zero() {
    let harness = Harness::start().await;
    let (tp, _) =
        harness.single(&[("traceparent", "00-00000000000000000000000000000000-1234567890123456-01")]).await;
    assert_ne!(tp.trace_id, "00000000000000000000000000000000");
}

#[tokio::test]
async fn test_traceparent_trace_id_illegal_characters() {
    let harness = Harness::start().await;
    for value in [
        "00-.2345678901234567890123456789012-1234567890123456-01",
        "00-1234567890123456789012345678901.-1234567890123456-01",
    ] {
        let (tp, _) = harness.single(&[("traceparent", value)]).await;
        assert_ne!(tp.trace_id, value[3..35]);
    }
}

#[tokio::test]
async fn test_traceparent_trace_id_too_long() {
    let harness = Harness::start().await;
    let (tp, _) =
        harness.single(&[("traceparent", "00-123456789012345678901234567890123-1234567890123456-01")]).await;
    assert_ne!(tp.trace_id, "123456789012345678901234567890123");
    assert_ne!(tp.trace_id, ID);
    assert_ne!(tp.trace_id, "23456789012345678901234567890123");
}

#[tokio::test]
async fn test_traceparent_trace_id_too_short() {
    let harness = Harness::start().await;
    let (tp, _) =
        harness.single(&[("traceparent", "00-1234567890123456789012345678901-1234567890123456-01")]).await;
    assert_ne!(tp.trace_id, "1234567890123456789012345678901");
    assert_ne!(tp.trace_id, "01234567890123456789012345678901", "never padded");
}

#[tokio::test]
async fn test_traceparent_parent_id_all_zero() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-0000000000000000-01").await;
}

#[tokio::test]
async fn test_traceparent_parent_id_illegal_characters() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-.234567890123456-01").await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-123456789012345.-01").await;
}

#[tokio::test]
async fn test_traceparent_parent_id_too_long() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-12345678901234567-01").await;
}

#[tokio::test]
async fn test_traceparent_parent_id_too_short() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-123456789012345-01").await;
}

#[tokio::test]
async fn test_traceparent_trace_flags_illegal_characters() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-1234567890123456-.0").await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-1234567890123456-0.").await;
}

#[tokio::test]
async fn test_traceparent_trace_flags_too_long() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-1234567890123456-001").await;
}

#[tokio::test]
async fn test_traceparent_trace_flags_too_short() {
    let harness = Harness::start().await;
    assert_restarts(&harness, "00-12345678901234567890123456789012-1234567890123456-1").await;
}

#[tokio::test]
async fn test_traceparent_ows_handling() {
    let harness = Harness::start().await;
    for value in [
        " 00-12345678901234567890123456789012-1234567890123456-01",
        "\t00-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-01 ",
        "00-12345678901234567890123456789012-1234567890123456-01\t",
        "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
    ] {
        assert_continues(&harness, &[("traceparent", value)]).await;
    }
}

#[tokio::test]
async fn test_tracestate_included_traceparent_missing() {
    let harness = Harness::start().await;
    let (_, one) = harness.single(&[("tracestate", "foo=1")]).await;
    let (_, two) = harness.single(&[("tracestate", "foo=1,bar=2")]).await;
    assert_eq!(one.0.len(), two.0.len());
}

const TP00: (&str, &str) = ("traceparent", "00-12345678901234567890123456789012-1234567890123456-00");

#[tokio::test]
async fn test_tracestate_included_traceparent_included() {
    let harness = Harness::start().await;
    let (tp, ts) = harness.single(&[TP00, ("tracestate", "foo=1,bar=2")]).await;
    assert_eq!(tp.trace_id, ID);
    assert_eq!(ts.get("foo"), Some("1"));
    assert_eq!(ts.get("bar"), Some("2"));
}

#[tokio::test]
async fn test_tracestate_header_name() {
    let harness = Harness::start().await;
    for name in ["trace-state", "trace.state"] {
        let (_, ts) = harness.single(&[TP00, (name, "foo=1")]).await;
        assert_eq!(ts.get("foo"), None);
    }
}

#[tokio::test]
async fn test_tracestate_header_name_valid_casing() {
    let harness = Harness::start().await;
    for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let (_, ts) = harness.single(&[TP00, (name, "foo=1")]).await;
        assert_eq!(ts.get("foo"), Some("1"));
    }
}

#[tokio::test]
async fn test_tracestate_empty_header() {
    let harness = Harness::start().await;
    let (tp, ts) = harness.single(&[TP00, ("tracestate", "")]).await;
    assert_eq!(tp.trace_id, ID);
    assert!(ts.0.is_empty());
    for headers in [
        [TP00, ("tracestate", "foo=1"), ("tracestate", "")],
        [TP00, ("tracestate", ""), ("tracestate", "foo=1")],
    ] {
        let (tp, ts) = harness.single(&headers).await;
        assert_eq!(tp.trace_id, ID);
        assert_eq!(ts.get("foo"), Some("1"));
    }
}

#[tokio::test]
async fn test_tracestate_multiple_headers_different_keys() {
    let harness = Harness::start().await;
    let (tp, ts) = harness
        .single(&[
            TP00,
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", "rojo=1,congo=2"),
            ("tracestate", "baz=3"),
        ])
        .await;
    assert_eq!(tp.trace_id, ID);
    let joined = ts.joined();
    let at = |member: &str| joined.find(member).unwrap_or_else(|| panic!("{member} missing in {joined}"));
    assert!(at("foo=1") < at("bar=2") && at("bar=2") < at("rojo=1"));
    assert!(at("rojo=1") < at("congo=2") && at("congo=2") < at("baz=3"));
}

#[tokio::test]
async fn test_tracestate_duplicated_keys() {
    let harness = Harness::start().await;
    for headers in [
        &[TP00, ("tracestate", "foo=1,foo=1")][..],
        &[TP00, ("tracestate", "foo=1,foo=2")],
        &[TP00, ("tracestate", "foo=1"), ("tracestate", "foo=1")],
        &[TP00, ("tracestate", "foo=1"), ("tracestate", "foo=2")],
    ] {
        let (tp, ts) = harness.single(headers).await;
        assert_eq!(tp.trace_id, ID);
        assert_eq!(ts.get("foo"), None, "{headers:?}");
    }
}

#[tokio::test]
async fn test_tracestate_all_allowed_characters() {
    let harness = Harness::start().await;
    let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let vendor_key = format!("{key}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x7e).filter(|&b| b != b',' && b != b'=').map(char::from).collect();
    for key in [key, vendor_key.as_str()] {
        let member = format!("{key}={value}");
        let (_, ts) = harness.single(&[TP00, ("tracestate", &member)]).await;
        assert_eq!(ts.get(key), Some(value.as_str()));
    }
}

#[tokio::test]
async fn test_tracestate_ows_handling() {
    let harness = Harness::start().await;
    for line in ["foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"] {
        let (_, ts) = harness.single(&[TP00, ("tracestate", line)]).await;
        assert_eq!((ts.get("foo"), ts.get("bar"), ts.get("baz")), (Some("1"), Some("2"), Some("3")));
    }
    for line in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        let (tp, ts) = harness.single(&[TP00, ("tracestate", line)]).await;
        assert_eq!(tp.trace_id, ID);
        assert_eq!(ts.get("foo"), Some("1"));
    }
}

#[tokio::test]
async fn test_tracestate_key_illegal_characters() {
    let harness = Harness::start().await;
    for (line, key) in [("foo =1", "foo "), ("FOO=1", "FOO"), ("foo.bar=1", "foo.bar")] {
        let (_, ts) = harness.single(&[TP00, ("tracestate", line)]).await;
        assert_eq!(ts.get(key), None);
    }
}

#[tokio::test]
async fn test_tracestate_key_illegal_vendor_format() {
    let harness = Harness::start().await;
    for line in ["foo@=1,bar=2", "@foo=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"] {
        let (_, ts) = harness.single(&[TP00, ("tracestate", line)]).await;
        assert_eq!(ts.get("bar"), None, "{line}");
    }
}

#[tokio::test]
async fn test_tracestate_member_count_limit() {
    let harness = Harness::start().await;
    let lines = [
        "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10",
        "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20",
        "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30",
    ];
    let mut headers = vec![TP00];
    headers.extend(lines.iter().map(|l| ("tracestate", *l)));
    let (_, ts) =
        harness.single(&[headers.as_slice(), &[("tracestate", "bar31=31,bar32=32")]].concat()).await;
    assert_eq!(ts.get("bar01"), Some("01"));
    assert_eq!(ts.0.len(), 32);
    let (_, ts) =
        harness.single(&[headers.as_slice(), &[("tracestate", "bar31=31,bar32=32,bar33=33")]].concat()).await;
    assert_eq!(ts.get("bar01"), None);
}

#[tokio::test]
async fn test_tracestate_key_length_limit() {
    let harness = Harness::start().await;
    let cases = [
        (format!("{}=1", "z".repeat(256)), true),
        (format!("{}=1", "z".repeat(257)), false),
        (format!("{}@{}=1", "t".repeat(241), "v".repeat(14)), true),
        (format!("{}@v=1", "t".repeat(242)), false),
        (format!("t@{}=1", "v".repeat(15)), false),
    ];
    for (line, kept) in cases {
        let (_, ts) = harness.single(&[TP00, ("tracestate", "foo=1"), ("tracestate", &line)]).await;
        assert_eq!(ts.get("foo").is_some(), kept, "{line}");
    }
}

#[tokio::test]
async fn test_tracestate_value_illegal_characters() {
    let harness = Harness::start().await;
    let (_, ts) = harness.single(&[TP00, ("tracestate", "foo=bar=baz")]).await;
    assert_eq!(ts.get("foo"), None);
    let (_, ts) = harness.single(&[TP00, ("tracestate", "foo=,bar=3")]).await;
    assert_eq!((ts.get("foo"), ts.get("bar")), (None, None));
}

// --- AdvancedTest -------------------------------------------------------------

#[tokio::test]
async fn test_multiple_requests_with_valid_traceparent() {
    let harness = Harness::start().await;
    let callbacks = harness
        .make_request(&[("traceparent", "00-12345678901234567890123456789012-1234567890123456-01")], 3)
        .await;
    let parents: Vec<Traceparent> = callbacks.iter().map(get_traceparent).collect();
    assert!(parents.iter().all(|tp| tp.trace_id == ID));
    let mut ids: Vec<&str> = parents.iter().map(|tp| tp.parent_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn test_multiple_requests_without_traceparent() {
    let harness = Harness::start().await;
    let callbacks = harness.make_request(&[], 3).await;
    let mut ids: Vec<String> = callbacks.iter().map(|c| get_traceparent(c).parent_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn test_multiple_requests_with_illegal_traceparent() {
    let harness = Harness::start().await;
    let callbacks = harness
        .make_request(&[("traceparent", "00-00000000000000000000000000000000-1234567890123456-01")], 3)
        .await;
    let parents: Vec<Traceparent> = callbacks.iter().map(get_traceparent).collect();
    assert!(parents.iter().all(|tp| tp.trace_id != "00000000000000000000000000000000"));
    let mut ids: Vec<&str> = parents.iter().map(|tp| tp.parent_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

// --- beyond the suite: baggage and the Level 2 random flag -----------------------

#[tokio::test]
async fn baggage_is_passed_on() {
    let harness = Harness::start().await;
    let callback = harness
        .make_request(&[TP00, ("baggage", "userId=alice"), ("baggage", "serverNode=DF%2028")], 1)
        .await
        .remove(0);
    let baggage: Vec<&str> =
        callback.iter().filter(|(k, _)| k == "baggage").map(|(_, v)| v.as_str()).collect();
    assert_eq!(baggage, ["userId=alice,serverNode=DF%2028"]);
}

#[tokio::test]
async fn random_flag_is_passed_on() {
    let harness = Harness::start().await;
    let callback = harness
        .make_request(&[("traceparent", "00-12345678901234567890123456789012-1234567890123456-03")], 1)
        .await
        .remove(0);
    let sent = callback.iter().find(|(k, _)| k == "traceparent").unwrap();
    assert!(sent.1.ends_with("-03"), "{sent:?}");
}
