//! Runs the `compose-layers` program, the subscriber assembled by hand, and
//! reads what it printed: a log line carrying the inherited fields and the
//! ids of the span the console exporter reports, and the metrics derived
//! from the span that named one.

use std::process::Command;

/// The program's standard output and standard error, run with the default
/// exporters whatever the environment of the test says.
fn run() -> (String, String) {
    let mut program = Command::new(env!("CARGO_BIN_EXE_compose-layers"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") || name.starts_with("THROUGHLINE_") {
            program.env_remove(name);
        }
    }
    let output = program.output().expect("the program runs");
    let (stdout, stderr) =
        (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap());
    assert!(output.status.success(), "{}\n{stdout}\n{stderr}", output.status);
    (stdout, stderr)
}

/// The value of `key=` in a logfmt line.
fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ').find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

fn is_hex(value: &str, digits: usize) -> bool {
    value.len() == digits && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn the_hand_made_subscriber_logs_with_ids_and_inherited_fields_and_derives_metrics() {
    let (stdout, stderr) = run();

    let line = stdout
        .lines()
        .find(|line| line.contains(r#"message="card charged""#))
        .unwrap_or_else(|| panic!("no log line in:\n{stdout}"));
    assert_eq!(value(line, "level"), Some("INFO"), "{line}");
    assert_eq!(value(line, "span"), Some("charge"), "{line}");
    assert_eq!(value(line, "amount_cents"), Some("1999"), "the event's own field: {line}");
    assert_eq!(value(line, "request_id"), Some("r-42"), "inherited from the checkout span: {line}");
    assert_eq!(value(line, "route"), Some("/orders"), "inherited from the checkout span: {line}");
    let (trace_id, span_id) = (value(line, "trace_id").unwrap_or(""), value(line, "span_id").unwrap_or(""));
    assert!(is_hex(trace_id, 32) && is_hex(span_id, 16), "{line}");

    // The ids are those of the exported `charge` span (the console exporter, on standard error).
    let charge = stderr
        .lines()
        .find(|span| span.contains(r#""charge""#))
        .unwrap_or_else(|| panic!("no charge span in:\n{stderr}"));
    assert!(charge.starts_with(&format!("span {trace_id} {span_id} ")), "{charge}\n{line}");

    // The checkout span, through SpanMetricsLayer, in the Prometheus text format.
    let series = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(r#"route="/orders""#))
            .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"))
            .to_owned()
    };
    assert!(series("checkout_total").contains(r#"result="ok""#));
    assert!(series("checkout_total").ends_with(" 1"), "{}", series("checkout_total"));
    assert!(series("checkout_duration_seconds_count").ends_with(" 1"));
    assert!(
        stdout.lines().any(|l| l.starts_with("throughline_log_lines_dropped_total{") && l.ends_with(" 0")),
        "the writer's drops are observed, and none dropped:\n{stdout}"
    );
}
