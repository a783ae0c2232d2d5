//! The frame every page shares, HTML escaping, and the small formatters.

use std::fmt::Write;

/// Text made safe for HTML content and attribute values.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        // One pass: copy runs of safe bytes, replace the five that matter.
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A colour per service, stable across pages and runs: a hue from the name.
pub(crate) fn service_hue(service: &str) -> u32 {
    // FNV-1a, so that the hue does not change between builds or platforms.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in service.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash % 360
}

/// Milliseconds with a precision fit for their size.
pub(crate) fn millis(nanos: u64) -> String {
    let ms = nanos as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// A Unix time in nanoseconds as `HH:MM:SS.mmm` UTC.
pub(crate) fn clock(unix_nanos: u64) -> String {
    let seconds = unix_nanos / 1_000_000_000;
    let ms = unix_nanos / 1_000_000 % 1000;
    format!("{:02}:{:02}:{:02}.{ms:03}", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
}

const STYLE: &str = r#"
:root { --fg:#1d232a; --muted:#5b6672; --line:#dde2e7; --bg:#fff; --err:#c62828; --errbg:#fdecea; }
* { box-sizing:border-box; }
body { font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg); background:var(--bg); margin:0; }
header { display:flex; gap:1.5em; align-items:baseline; padding:.6em 1.2em; background:#17202a; color:#eef; }
header a { color:#fff; font-weight:600; text-decoration:none; }
header .stats { color:#aab4c0; font-size:12px; }
main { padding:1em 1.2em; }
h1 { font-size:18px; margin:.2em 0 .6em; } h2 { font-size:15px; margin:1.4em 0 .5em; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:.3em .6em; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.error td { background:var(--errbg); }
.chip { display:inline-block; padding:0 .45em; border-radius:3px; color:#fff; font-size:12px; margin-right:.25em; }
.badge { display:inline-block; padding:0 .4em; border-radius:3px; font-size:11px; margin-left:.4em; border:1px solid; }
.badge.error { color:var(--err); border-color:var(--err); background:var(--errbg); }
.badge.retry { color:#8a5a00; border-color:#d39e00; background:#fff6d6; }
.badge.resilience { color:#5a2ca0; border-color:#8e63ce; background:#f2ebfb; }
.badge.remote { color:#245; border-color:#89a; background:#eef3f7; }
form.filters { display:flex; flex-wrap:wrap; gap:.6em; align-items:end; margin-bottom:1em; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
form.filters input, form.filters select { font:inherit; padding:.2em .4em; }
.axis { position:relative; height:1.4em; margin-left:40%; margin-right:7em; border-bottom:1px solid var(--line); font-size:11px; color:var(--muted); }
.axis span { position:absolute; transform:translateX(-50%); white-space:nowrap; }
.axis span:first-child { transform:none; } .axis span:last-child { transform:translateX(-100%); }
details.span { border-bottom:1px solid #f0f2f4; }
details.span > summary { display:grid; grid-template-columns:40% 1fr 7em; align-items:center; list-style:none; cursor:pointer; padding:1px 0; }
details.span > summary::-webkit-details-marker { display:none; }
details.span > summary:hover { background:#f5f8fb; }
details.span[open] > summary { background:#eaf2fb; }
details.span.error > summary { background:var(--errbg); }
.name { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.swatch { display:inline-block; width:.7em; height:.7em; border-radius:2px; margin-right:.35em; vertical-align:middle; }
.svc { color:var(--muted); margin-right:.35em; }
.track { position:relative; height:1em; background:repeating-linear-gradient(90deg,transparent 0,transparent calc(25% - 1px),var(--line) calc(25% - 1px),var(--line) 25%); }
.bar { position:absolute; top:1px; bottom:1px; min-width:2px; border-radius:2px; }
.bar.client { background-image:repeating-linear-gradient(45deg,rgba(255,255,255,.35) 0,rgba(255,255,255,.35) 3px,transparent 3px,transparent 6px); }
details.span.error .bar { outline:2px solid var(--err); }
.tick { position:absolute; top:-2px; bottom:-2px; width:2px; background:#222; }
.dur { text-align:right; font-variant-numeric:tabular-nums; padding-right:.4em; }
.detail { margin:.3em 0 .8em 2em; padding:.5em .8em; border-left:3px solid var(--line); background:#fafbfc; }
.detail table { width:auto; min-width:50%; } .detail td:first-child { color:var(--muted); white-space:nowrap; }
.log { font-family:ui-monospace,Menlo,monospace; font-size:12px; }
.log.error td { color:var(--err); }
.muted { color:var(--muted); }
"#;

/// Opens a page: head, style, the header with the store's counts.
pub(crate) fn open(out: &mut String, base: &str, title: &str, stats: &crate::StoreStats) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · throughline viewer</title><style>{STYLE}</style></head><body>\
         <header><a href=\"{}/\">throughline viewer</a>\
         <span class=\"stats\" id=\"store-stats\">{} traces · {} spans · {} logs · {:.1} MiB · {} evicted</span></header><main>",
        Escaped(title),
        Escaped(base),
        stats.traces,
        stats.spans,
        stats.logs,
        stats.bytes as f64 / (1 << 20) as f64,
        stats.traces_evicted,
    );
}

/// Closes a page.
pub(crate) fn close(out: &mut String) {
    out.push_str("</main></body></html>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five() {
        assert_eq!(Escaped("a<b>&\"c'").to_string(), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(Escaped("plain").to_string(), "plain");
    }

    #[test]
    fn hues_are_stable_and_spread() {
        assert_eq!(service_hue("orders"), service_hue("orders"));
        assert!(service_hue("orders") < 360);
        assert_ne!(service_hue("orders"), service_hue("payments"));
    }

    #[test]
    fn formats() {
        assert_eq!(millis(1_234_567), "1.2 ms");
        assert_eq!(millis(250_000_000), "250 ms");
        assert_eq!(clock(3_723_004_000_000), "01:02:03.004");
    }
}
