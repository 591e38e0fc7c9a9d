//! Compile-pass and compile-fail cases for the guard macros.
//!
//! One folder per macro (plus `guards/` for what all three share), each with
//! `pass/` and `fail/`, one mistake per file, named after the mistake. The
//! committed `.stderr` files are what the pinned toolchain prints; regenerate
//! them with `TRYBUILD=overwrite cargo test -p lexigram-auth-ui-tests` and read
//! every one before committing.

use std::process::Command;

/// Compiler diagnostics change between releases, so the expected output is
/// only compared on the toolchain pinned in `rust-toolchain.toml`.
fn on_pinned_toolchain() -> bool {
    let pinned = include_str!("../../rust-toolchain.toml")
        .lines()
        .find_map(|line| line.trim().strip_prefix("channel = "))
        .map(|channel| channel.trim_matches('"').to_owned())
        .expect("rust-toolchain.toml names a channel");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc).arg("--version").output().expect("rustc runs");
    let version = String::from_utf8_lossy(&output.stdout);
    let matches = version.starts_with(&format!("rustc {pinned} "));
    if !matches {
        eprintln!("skipping ui tests: they are pinned to {pinned}, this is {}", version.trim());
    }
    matches
}

#[test]
fn ui() {
    if !on_pinned_toolchain() {
        return;
    }
    let cases = trybuild::TestCases::new();
    for folder in ["require_auth", "require_roles", "require_permissions", "guards"] {
        cases.pass(format!("tests/{folder}/pass/*.rs"));
        cases.compile_fail(format!("tests/{folder}/fail/*.rs"));
    }
}
