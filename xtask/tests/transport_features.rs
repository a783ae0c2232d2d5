//! A service that exports over one OTLP transport compiles only that one:
//! the facade with `otlp-http` pulls no tonic, with `otlp-grpc` no HTTP
//! client stack (hyper-rustls, reqwest).

use std::path::Path;
use std::process::Command;

/// The crates `cargo tree` lists for the facade with `features` only.
fn facade_tree(features: &str) -> String {
    // Read at run time: one clone's test binary may run for another, which
    // shares its target directory (see `cargo xtask root`).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let workspace = Path::new(&manifest_dir).parent().expect("xtask sits in the workspace").to_path_buf();
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["tree", "--quiet", "--edges", "normal", "--prefix", "none", "--package", "throughline"])
        .args(["--no-default-features", "--features", features])
        .current_dir(workspace)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn has(tree: &str, name: &str) -> bool {
    tree.lines().any(|line| line.split_whitespace().next() == Some(name))
}

#[test]
fn http_only_compiles_no_tonic() {
    let tree = facade_tree("init,otlp-http");
    assert!(has(&tree, "opentelemetry-otlp") && has(&tree, "hyper-rustls"), "{tree}");
    assert!(!has(&tree, "tonic"), "tonic pulled by an HTTP-only build:\n{tree}");
}

#[test]
fn grpc_only_compiles_no_http_client() {
    let tree = facade_tree("init,otlp-grpc");
    assert!(has(&tree, "opentelemetry-otlp") && has(&tree, "tonic"), "{tree}");
    for name in ["hyper-rustls", "reqwest"] {
        assert!(!has(&tree, name), "{name} pulled by a gRPC-only build:\n{tree}");
    }
}
