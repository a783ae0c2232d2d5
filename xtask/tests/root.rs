//! xtask works on the workspace it is run for, not the one it was built in:
//! `.ci/run` shares one target directory between clones, so a binary built
//! in one clone is run for another.

use std::path::Path;
use std::process::Command;

fn root_seen(dir: &Path, manifest_dir: Option<&Path>) -> String {
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"));
    xtask.arg("root").current_dir(dir).env_remove("CARGO_MANIFEST_DIR");
    if let Some(manifest_dir) = manifest_dir {
        xtask.env("CARGO_MANIFEST_DIR", manifest_dir);
    }
    let output = xtask.output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A second clone: a workspace manifest and an xtask folder.
fn second_clone() -> tempfile::TempDir {
    let clone = tempfile::tempdir().unwrap();
    std::fs::write(clone.path().join("Cargo.toml"), "[workspace]\nmembers = [\"xtask\"]\n").unwrap();
    std::fs::create_dir_all(clone.path().join("xtask/src")).unwrap();
    clone
}

#[test]
fn the_root_is_the_clone_cargo_runs_it_for() {
    let clone = second_clone();
    let seen = root_seen(clone.path(), Some(&clone.path().join("xtask")));
    assert_eq!(Path::new(&seen), clone.path());
}

#[test]
fn without_cargo_the_root_is_the_nearest_workspace_above() {
    let clone = second_clone();
    let seen = root_seen(&clone.path().join("xtask/src"), None);
    assert_eq!(Path::new(&seen), clone.path());
    assert_ne!(Path::new(&seen), Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap());
}
