//! A user who takes the facade never meets two versions of `opentelemetry`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

#[test]
fn the_facade_pulls_one_version_of_each_opentelemetry_crate() {
    // Read at run time: one clone's test binary may run for another, which
    // shares its target directory.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let workspace = Path::new(&manifest_dir).join("../..");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(&workspace)
        .args(["tree", "--package", "throughline", "--all-features", "--edges", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--locked", "--offline"])
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    for name in ["opentelemetry", "opentelemetry_sdk", "tracing-opentelemetry", "tonic", "http", "hyper"] {
        let versions: BTreeSet<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().collect::<Vec<_>>().get(..2).map(|p| (p[0], p[1])))
            .filter(|(package, _)| *package == name)
            .map(|(_, version)| version)
            .collect();
        assert_eq!(versions.len(), 1, "{name} appears in versions {versions:?}");
    }
}
