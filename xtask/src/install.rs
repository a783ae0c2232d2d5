//! What the checks need that a fresh machine lacks: installed the way
//! `.ci/run` would, or a clear message.

use std::process::Command;

/// Makes sure `program` is on the PATH, installing Debian's `package` when
/// it is missing and this process runs as root.
pub(crate) fn debian_package(program: &str, package: &str) -> crate::Result {
    if on_path(program) {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root || !on_path("apt-get") {
        return Err(format!(
            "`{program}` is missing: install Debian's `{package}` (apt-get install {package}), then run again"
        ));
    }
    crate::run(Command::new("apt-get").args(["update", "-qq"]))?;
    crate::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
