//! Compile-pass and compile-fail cases for the guard macros.
//!
//! One folder per macro (plus `guards/` for what all three share and `service/`
//! for guards on functions taking `&Principal`), each with
//! `pass/` and `fail/`, one mistake per file, named after the mistake.
//! `catalog/` holds the cases compiled against a role and permission catalog
//! (`catalog/application.yaml`); every other folder is compiled without one,
//! so only the grammar is checked there. The
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

/// Whether this is the pinned toolchain; otherwise why not.
fn on_pinned_toolchain() -> std::io::Result<bool> {
    let pinned = pinned_channel()
        .ok_or_else(|| std::io::Error::other("rust-toolchain.toml names no channel"))?;
    let version = rustc_version()?;
    if version.starts_with(&format!("rustc {pinned} ")) {
        return Ok(true);
    }
    eprintln!("skipping ui tests: they are pinned to {pinned}, this is {version}");
    Ok(false)
}

/// The variable that points the macros at a catalog file.
const CATALOG_VAR: &str = "LEXIGRAM_AUTH_CATALOG";

#[test]
fn ui() {
    // Compiler diagnostics change between releases, so the expected output is
    // only compared on the pinned toolchain.
    if !on_pinned_toolchain().expect("rustc runs") {
        return;
    }
    if std::env::var_os(CATALOG_VAR).is_some() {
        eprintln!("skipping the cases without a catalog: {CATALOG_VAR} is set");
        return;
    }
    {
        let cases = trybuild::TestCases::new();
        for folder in [
            "require_auth",
            "require_roles",
            "require_permissions",
            "derive_permission",
            "derive_policy",
            "guards",
            "service",
        ] {
            cases.pass(format!("tests/{folder}/pass/*.rs"));
            cases.compile_fail(format!("tests/{folder}/fail/*.rs"));
        }
    } // the cases run here, when `cases` is dropped

    // The catalog cases need `LEXIGRAM_AUTH_CATALOG` in the environment of the
    // compiler that trybuild runs. Setting a variable in this process is
    // `unsafe` (other threads may read the environment), so this test binary
    // runs itself again, with the variable, for the `catalog_cases` test only.
    let catalog = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/catalog/application.yaml"
    );
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let status = Command::new(exe)
        .args([
            "catalog_cases",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CATALOG_VAR, catalog)
        .status()
        .expect("the test binary runs again");
    assert!(status.success(), "the catalog cases failed (output above)");
}

/// The cases of `tests/catalog`, compiled against `tests/catalog/application.yaml`.
/// Run by [`ui`] in a child process that sets `LEXIGRAM_AUTH_CATALOG`; does
/// nothing when the variable is unset.
#[test]
fn catalog_cases() {
    if std::env::var_os(CATALOG_VAR).is_none() || !on_pinned_toolchain().expect("rustc runs") {
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.pass("tests/catalog/pass/*.rs");
    cases.compile_fail("tests/catalog/fail/*.rs");
}
