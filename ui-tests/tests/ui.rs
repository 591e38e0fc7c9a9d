//! Compile-pass and compile-fail cases for the guard macros.
//!
//! One folder per macro (plus `guards/` for what all three share), each with
//! `pass/` and `fail/`, one mistake per file, named after the mistake. The
//! committed `.stderr` files are what the pinned toolchain prints; regenerate
//! them with `TRYBUILD=overwrite cargo test -p lexigram-auth-ui-tests` and read
//! every one before committing.

use std::process::Command;

/// The toolchain in `rust-toolchain.toml`, such as `1.95.0`.
fn pinned_channel() -> Option<String> {
    include_str!("../../rust-toolchain.toml")
        .lines()
        .find_map(|line| line.trim().strip_prefix("channel = "))
        .map(|channel| channel.trim_matches('"').to_owned())
}

/// `rustc --version` of the compiler cargo uses.
fn rustc_version() -> std::io::Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc).arg("--version").output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[test]
fn ui() {
    // Compiler diagnostics change between releases, so the expected output is
    // only compared on the pinned toolchain.
    let pinned = pinned_channel().expect("rust-toolchain.toml names a channel");
    let version = rustc_version().expect("rustc runs");
    if !version.starts_with(&format!("rustc {pinned} ")) {
        eprintln!("skipping ui tests: they are pinned to {pinned}, this is {version}");
        return;
    }
    let cases = trybuild::TestCases::new();
    for folder in [
        "require_auth",
        "require_roles",
        "require_permissions",
        "guards",
    ] {
        cases.pass(format!("tests/{folder}/pass/*.rs"));
        cases.compile_fail(format!("tests/{folder}/fail/*.rs"));
    }
}
