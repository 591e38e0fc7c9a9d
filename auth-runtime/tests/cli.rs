// The command-line tool, run as a process: each subcommand with its exit
// code and output. A test binary of the runtime package (not of `tests/`)
// because only a package's own tests get `CARGO_BIN_EXE_<name>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! `lexigram-auth` subcommands against a temporary directory holding an
//! `application.yaml` whose stores are one SQLite file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use lexigram_auth::Principal;
use lexigram_auth::session::{ClientInfo, SessionConfig, SessionManager, SqliteSessionStore};
use lexigram_auth::token::{Algorithm, JwtTokenManager, Key, VerifyingKey};

const BIN: &str = env!("CARGO_BIN_EXE_lexigram-auth");
const SECRET: &str = "k3Jd8s-Qp0vX2mZr7LwT9yBn4HcF6gUe1aS5oIiKq";
const PASSWORD: &str = "Correct-Horse-Battery-42";

/// A temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "lexigram-cli-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.0.join("auth.db").display())
    }

    /// Writes `application.yaml` with `extra` appended under `auth:`.
    fn config(&self, auth_body: &str) {
        std::fs::write(
            self.0.join("application.yaml"),
            format!("auth:\n{auth_body}"),
        )
        .unwrap();
    }

    /// A production-ready configuration on the SQLite file.
    fn standard(&self) {
        let db = self.db_url();
        self.config(&format!(
            r#"  secret_key: {SECRET}
  token:
    issuer: https://cli.example
    required_audience: cli-tests
  permissions: [articles.read, articles.write, articles.delete]
  roles:
    admin: {{ permissions: ["*"] }}
    chief: {{ inherits: [editor], permissions: [articles.delete] }}
    editor: {{ inherits: [viewer], permissions: [articles.write] }}
    viewer: {{ permissions: [articles.read] }}
  stores:
    users: {db}
    sessions: {db}
    revocation: {db}
    api_keys: {db}
"#
        ));
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run printed, and its exit code.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    #[track_caller]
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs the tool in `dir` with a clean environment (no `LEX_ENV`, no
/// `LEX_AUTH__` overrides from the test's own), `env` added, and `stdin`.
fn run_with(dir: &Dir, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

fn run(dir: &Dir, args: &[&str]) -> Run {
    run_with(dir, &[], args, None)
}

fn run_stdin(dir: &Dir, args: &[&str], stdin: &str) -> Run {
    run_with(dir, &[], args, Some(stdin))
}

// ---------------------------------------------------------------- usage

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let dir = Dir::new("help");
    let help = run(&dir, &["--help"]);
    help.expect_code(0);
    for command in [
        "doctor",
        "gen-secret",
        "gen-keypair",
        "hash-password",
        "token",
        "roles",
        "users",
        "sessions",
    ] {
        help.stdout_has(command);
    }
    help.stdout_has("Exit codes:")
        .stdout_has("2  usage error")
        .stdout_has("4  a store");
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new("usage");
    run(&dir, &["no-such-command"])
        .expect_code(2)
        .stderr_has("unrecognized subcommand");
    run(&dir, &["gen-secret", "--bytes", "16"])
        .expect_code(2)
        .stderr_has("outside 32 to 4096");
    run(&dir, &["gen-keypair", "--alg", "hs256", "--out-dir", "k"]).expect_code(2);
    run(&dir, &["--env", "prod", "doctor"])
        .expect_code(2)
        .stderr_has("not one of development");
    run(&dir, &["sessions", "revoke", "alice"]).expect_code(2);
    run(&dir, &["sessions", "revoke", "alice", "s1", "--all"]).expect_code(2);
}

// ---------------------------------------------------------------- doctor

#[test]
fn doctor_accepts_a_good_configuration() {
    let dir = Dir::new("doctor-ok");
    dir.standard();
    run(&dir, &["doctor"])
        .expect_code(0)
        .stdout_has("checking `application.yaml` for production")
        .stdout_has("summary: 0 errors, 0 warnings: the configuration is usable in production");
}

#[test]
fn doctor_explains_each_problem_with_its_key_path_and_fix() {
    let dir = Dir::new("doctor-bad");
    dir.config(
        "  secret_key: change-me-change-me-change-me-change-me\n  roles:\n    editor: { inherits: [viewr] }\n    viewer: {}\n",
    );
    let report = run(&dir, &["doctor"]);
    report
        .expect_code(1)
        .stdout_has("error: auth.secret_key\n  problem: looks like a placeholder")
        .stdout_has("error: auth.token.required_audience")
        .stdout_has("error: auth.roles.editor.inherits\n  problem: role `editor` inherits from `viewr`, which is not defined")
        .stdout_has("  fix:     define the parent role")
        .stdout_has("summary: 3 errors, ")
        .stdout_has("the application would refuse to start in production");
    // Warnings are reported apart, even next to errors (memory stores in
    // production).
    report.stdout_has("warning: auth.stores.");
    assert!(
        report
            .stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("summary: ")
    );

    // The environment comes from `--env`, else LEX_ENV: in development the
    // placeholder secret is a warning and the audience optional, but the
    // unknown parent stays an error.
    let dev = run(&dir, &["--env", "development", "doctor"]);
    dev.expect_code(1)
        .stdout_has("for development")
        .stdout_has("warning: auth.secret_key")
        .stdout_has("summary: 1 error, 1 warning");
    assert!(
        !dev.stdout.contains("error: auth.secret_key"),
        "{}",
        dev.stdout
    );
    assert!(!dev.stdout.contains("required_audience"), "{}", dev.stdout);
    run_with(&dir, &[("LEX_ENV", "development")], &["doctor"], None)
        .expect_code(1)
        .stdout_has("for development");
}

#[test]
fn doctor_warnings_alone_exit_0() {
    let dir = Dir::new("doctor-warn");
    dir.config(
        "  roles:\n    viewer: { permissions: [articles.read] }\n  permissions: [articles.read]\n",
    );
    run(&dir, &["--env", "development", "doctor"])
        .expect_code(0)
        .stdout_has("warning: auth.secret_key")
        .stdout_has("summary: 0 errors, 1 warning: the configuration is usable in development");
}

#[test]
fn configuration_that_cannot_be_read_exits_3() {
    let dir = Dir::new("doctor-unreadable");
    // Missing file, default name.
    run(&dir, &["doctor"])
        .expect_code(3)
        .stdout_has("could not be read");
    run(&dir, &["roles", "explain", "viewer"])
        .expect_code(3)
        .stderr_has("LEXIGRAM_AUTH_CONFIG");
    // Syntax error: line and column.
    dir.config("  token: [unclosed\n");
    run(&dir, &["doctor"]).expect_code(3).stdout_has("line");
    // A misspelt key is named with its path.
    dir.config("  token:\n    acess_ttl: 5m\n");
    run(&dir, &["doctor"])
        .expect_code(3)
        .stdout_has("error: auth.token.acess_ttl");
    // `--config` and LEXIGRAM_AUTH_CONFIG choose the file.
    std::fs::write(
        dir.path().join("other.yaml"),
        format!("auth:\n  secret_key: {SECRET}\n"),
    )
    .unwrap();
    run(&dir, &["--config", "other.yaml", "--env", "test", "doctor"])
        .expect_code(0)
        .stdout_has("checking `other.yaml` for test");
    run_with(
        &dir,
        &[("LEXIGRAM_AUTH_CONFIG", "other.yaml"), ("LEX_ENV", "test")],
        &["doctor"],
        None,
    )
    .expect_code(0)
    .stdout_has("checking `other.yaml` for test");
    // Other commands refuse a configuration the environment refuses.
    run(
        &dir,
        &["--config", "other.yaml", "token", "mint", "--sub", "a"],
    )
    .expect_code(3)
    .stderr_has("auth.token.required_audience")
    .stderr_has("lexigram-auth doctor");
}

// ---------------------------------------------------------------- secrets and keys

#[test]
fn gen_secret_prints_base64url_of_the_requested_length() {
    let dir = Dir::new("secret");
    let out = run(&dir, &["gen-secret"]);
    out.expect_code(0);
    let secret = out.stdout.trim();
    assert_eq!(secret.len(), 86, "64 bytes in unpadded base64url");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let other = run(&dir, &["gen-secret"]);
    assert_ne!(other.stdout, out.stdout);
    let short = run(&dir, &["gen-secret", "--bytes", "32"]);
    short.expect_code(0);
    assert_eq!(short.stdout.trim().len(), 43);
}

#[test]
fn gen_keypair_writes_keys_that_load_in_the_token_manager() {
    let dir = Dir::new("keypair");
    for (alg, algorithm, kid, extra) in [
        ("ed25519", Algorithm::EdDSA, "ed-1", None),
        ("es256", Algorithm::ES256, "ec-1", None),
        ("rs256", Algorithm::RS256, "rsa-1", Some("2048")),
    ] {
        let mut args = vec![
            "gen-keypair",
            "--alg",
            alg,
            "--kid",
            kid,
            "--out-dir",
            "keys",
        ];
        if let Some(bits) = extra {
            args.extend(["--bits", bits]);
        }
        run(&dir, &args)
            .expect_code(0)
            .stdout_has(&format!("{kid}.pem"))
            .stdout_has(&format!("algorithm: {}", algorithm.as_str()));
        let keys = dir.path().join("keys");
        let private = std::fs::read_to_string(keys.join(format!("{kid}.pem"))).unwrap();
        let public = std::fs::read_to_string(keys.join(format!("{kid}.pub.pem"))).unwrap();
        let jwk = std::fs::read_to_string(keys.join(format!("{kid}.jwk.json"))).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(keys.join(format!("{kid}.pem")))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{kid}: the private key is owner-only");
        }
        let json: serde_json::Value = serde_json::from_str(&jwk).unwrap();
        assert_eq!(json["kid"], kid);
        assert_eq!(json["alg"], algorithm.as_str());
        assert_eq!(json["use"], "sig");
        assert!(json.get("d").is_none(), "the JWK is public");

        // The private PEM signs in a token manager; the public PEM and the
        // JWK verify what it signed.
        let signer = JwtTokenManager::builder()
            .key(kid, Key::from_pem(algorithm, &private).unwrap())
            .current_key(kid)
            .build()
            .unwrap();
        let token = signer.sign_access(&Principal::new("alice")).unwrap();
        for verifying in [
            Key::from_pem(algorithm, &public).unwrap(),
            Key::Verifying(VerifyingKey::from_jwk(&jwk).unwrap()),
        ] {
            let verifier = JwtTokenManager::builder()
                .key(kid, verifying)
                .build()
                .unwrap();
            assert_eq!(verifier.verify_access(&token).unwrap().user_id, "alice");
        }
    }
    // Never overwrites.
    run(
        &dir,
        &[
            "gen-keypair",
            "--alg",
            "ed25519",
            "--kid",
            "ed-1",
            "--out-dir",
            "keys",
        ],
    )
    .expect_code(1)
    .stderr_has("already exists");
    // `--bits` is for RSA only.
    run(
        &dir,
        &[
            "gen-keypair",
            "--alg",
            "es256",
            "--bits",
            "2048",
            "--out-dir",
            "keys",
        ],
    )
    .expect_code(1);
    // A default kid names the algorithm.
    run(
        &dir,
        &["gen-keypair", "--alg", "ed25519", "--out-dir", "more"],
    )
    .expect_code(0)
    .stdout_has("current_key: ed25519-");
}

#[test]
fn a_generated_key_signs_tokens_through_the_configuration() {
    let dir = Dir::new("keypair-config");
    run(
        &dir,
        &[
            "gen-keypair",
            "--alg",
            "es256",
            "--kid",
            "k1",
            "--out-dir",
            "keys",
        ],
    )
    .expect_code(0);
    let pem = dir.path().join("keys/k1.pem");
    dir.config(&format!(
        "  token:\n    algorithm: ES256\n    required_audience: api\n    keys:\n      k1: {{ pem_file: {} }}\n",
        pem.display()
    ));
    let token = run(&dir, &["token", "mint", "--sub", "alice"]);
    token.expect_code(0);
    run(&dir, &["token", "verify", token.stdout.trim()])
        .expect_code(0)
        .stdout_has("kid:         k1");
}

// ---------------------------------------------------------------- passwords

#[test]
fn hash_password_reads_stdin_and_uses_the_configured_parameters() {
    let dir = Dir::new("hash");
    dir.standard();
    let out = run_stdin(&dir, &["hash-password"], &format!("{PASSWORD}\n"));
    out.expect_code(0);
    let hash = out.stdout.trim();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    // The newline is not part of the password: the hash verifies the
    // password alone.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hasher = lexigram_auth::password::PasswordHasher::new(Default::default()).unwrap();
    let verified = rt.block_on(hasher.verify(PASSWORD, hash)).unwrap();
    assert!(verified.is_match(), "{verified:?}");

    let db = dir.db_url();
    dir.config(&format!(
        "  secret_key: {SECRET}\n  token: {{ required_audience: a }}\n  password:\n    argon2: {{ memory_kib: 47104, iterations: 1, parallelism: 1 }}\n  stores: {{ users: {db}, sessions: {db}, api_keys: {db} }}\n"
    ));
    run_stdin(&dir, &["hash-password"], PASSWORD)
        .expect_code(0)
        .stdout_has("$argon2id$v=19$m=47104,t=1,p=1$");
    // Nothing on stdin: refused, not hashed.
    run_stdin(&dir, &["hash-password"], "")
        .expect_code(1)
        .stderr_has("no password on standard input");
}

// ---------------------------------------------------------------- tokens

#[test]
fn token_mint_verify_and_inspect() {
    let dir = Dir::new("token");
    dir.standard();
    let minted = run(
        &dir,
        &[
            "token",
            "mint",
            "--sub",
            "alice",
            "--roles",
            "editor,viewer",
            "--permissions",
            "reports.read",
            "--ttl",
            "5m",
        ],
    );
    minted.expect_code(0);
    let token = minted.stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3);

    // The configured manager accepts it.
    let manager = JwtTokenManager::builder()
        .hmac_key("default", Algorithm::HS256, SECRET)
        .current_key("default")
        .issuer("https://cli.example")
        .required_audience("cli-tests")
        .build()
        .unwrap();
    let verified = manager.verify_access(&token).unwrap();
    assert_eq!(verified.user_id, "alice");
    assert_eq!(verified.roles, ["editor", "viewer"]);
    assert_eq!(verified.permissions, ["reports.read"]);
    assert_eq!(verified.exp - verified.iat, 300);

    run(&dir, &["token", "verify", &token])
        .expect_code(0)
        .stdout_has("valid\n")
        .stdout_has("sub:         alice")
        .stdout_has("roles:       editor, viewer");
    // From standard input too.
    run_stdin(&dir, &["token", "verify"], &format!("{token}\n")).expect_code(0);

    // Negative answers: exit 1 with the reason code.
    let mut tampered = token.clone();
    tampered.push('A');
    run(&dir, &["token", "verify", &tampered])
        .expect_code(1)
        .stdout_has("invalid: invalid_token");
    let other_audience = JwtTokenManager::builder()
        .hmac_key("default", Algorithm::HS256, SECRET)
        .current_key("default")
        .issuer("https://cli.example")
        .required_audience("someone-else")
        .build()
        .unwrap()
        .sign_access(&Principal::new("alice"))
        .unwrap();
    run(&dir, &["token", "verify", &other_audience])
        .expect_code(1)
        .stdout_has("invalid: invalid_token (");
    let expired = JwtTokenManager::builder()
        .hmac_key("default", Algorithm::HS256, SECRET)
        .current_key("default")
        .issuer("https://cli.example")
        .required_audience("cli-tests")
        .clock(lexigram_auth::clock::ManualClock::new(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000),
        ))
        .build()
        .unwrap()
        .sign_access(&Principal::new("alice"))
        .unwrap();
    run(&dir, &["token", "verify", &expired])
        .expect_code(1)
        .stdout_has("invalid: token_expired");

    // Inspect decodes without verifying, and says so: even the tampered
    // token decodes.
    run(&dir, &["token", "inspect", &tampered])
        .expect_code(0)
        .stdout_has("UNVERIFIED")
        .stdout_has("\"alg\": \"HS256\"")
        .stdout_has("\"sub\": \"alice\"")
        .stdout_has("\"typ\": \"access\"");
    run(&dir, &["token", "inspect", "not-a-token"])
        .expect_code(1)
        .stderr_has("a JWS has 3");

    // Mint refuses unknown roles (with a suggestion) and bad permissions.
    run(&dir, &["token", "mint", "--sub", "a", "--roles", "editr"])
        .expect_code(1)
        .stderr_has("did you mean `editor`");
    run(
        &dir,
        &["token", "mint", "--sub", "a", "--permissions", "Bad..name"],
    )
    .expect_code(1);
    run(&dir, &["token", "mint", "--sub", "a", "--ttl", "soon"]).expect_code(2);
}

// ---------------------------------------------------------------- roles

#[test]
fn roles_explain_shows_where_each_permission_comes_from() {
    let dir = Dir::new("roles");
    dir.standard();
    run(&dir, &["roles", "explain", "chief"])
        .expect_code(0)
        .stdout_has("role: chief")
        .stdout_has("inherits: editor, viewer")
        .stdout_has("effective permissions: 3")
        .stdout_has("articles.delete  from chief (direct)")
        .stdout_has("articles.write   from editor (inherited: chief -> editor)")
        .stdout_has("articles.read    from viewer (inherited: chief -> editor -> viewer)");
    run(&dir, &["roles", "explain", "admin"])
        .expect_code(0)
        .stdout_has("*  from admin (direct)")
        .stdout_has("every permission; declared: articles.read, articles.write, articles.delete");
    run(&dir, &["roles", "explain", "editr"])
        .expect_code(1)
        .stdout_has("unknown role `editr`; did you mean `editor`?");
    run(&dir, &["roles", "explain", "zzzzzzzz"])
        .expect_code(1)
        .stdout_has("the roles are: admin, chief, editor, viewer");
    run(&dir, &["roles", "list"])
        .expect_code(0)
        .stdout_has("admin\nchief\neditor\nviewer\n");
}

// ---------------------------------------------------------------- users and sessions

#[test]
fn users_create_list_disable() {
    let dir = Dir::new("users");
    dir.standard();
    let created = run_stdin(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "Bob@Example.com",
            "--name",
            "Bob",
            "--roles",
            "editor",
        ],
        PASSWORD,
    );
    created.expect_code(0);
    let bob = created.stdout.trim().to_owned();
    assert!(!bob.is_empty());
    // The default role, and a verified account without a password.
    run(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "carol@example.com",
            "--name",
            "Carol",
            "--no-password",
            "--verified",
        ],
    )
    .expect_code(0);

    let list = run(&dir, &["users", "list"]);
    list.expect_code(0)
        .stdout_has(&format!(
            "{bob}\tbob@example.com\tBob\teditor\tactive,unverified"
        ))
        .stdout_has("carol@example.com\tCarol\tviewer\tactive")
        .stderr_has("2 of 2 users");

    // Refusals: a taken address, a weak password, an unknown role.
    run_stdin(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--name",
            "Bob 2",
        ],
        PASSWORD,
    )
    .expect_code(1)
    .stderr_has("exists already");
    run_stdin(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "dan@example.com",
            "--name",
            "Dan",
        ],
        "short",
    )
    .expect_code(1)
    .stderr_has("refused by the policy");
    run_stdin(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "dan@example.com",
            "--name",
            "Dan",
            "--roles",
            "root",
        ],
        PASSWORD,
    )
    .expect_code(1)
    .stderr_has("unknown role `root`");

    // Disabling revokes the user's tokens in the configured revocation
    // store: a token minted before no longer verifies.
    let token = run(&dir, &["token", "mint", "--sub", &bob, "--roles", "editor"]);
    token.expect_code(0);
    let token = token.stdout.trim().to_owned();
    run(&dir, &["token", "verify", &token]).expect_code(0);
    run(&dir, &["users", "disable", "bob@example.com"])
        .expect_code(0)
        .stdout_has(&format!("disabled {bob} (bob@example.com)"));
    run(&dir, &["token", "verify", &token])
        .expect_code(1)
        .stdout_has("invalid: token_revoked");
    run(&dir, &["users", "list"])
        .expect_code(0)
        .stdout_has(&format!("{bob}\tbob@example.com\tBob\teditor\tdisabled"));
    run(&dir, &["users", "disable", "nobody@example.com"])
        .expect_code(1)
        .stderr_has("no user `nobody@example.com`");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_and_revoke() {
    let dir = Dir::new("sessions");
    dir.standard();
    let created = run_stdin(
        &dir,
        &[
            "users",
            "create",
            "--email",
            "erin@example.com",
            "--name",
            "Erin",
        ],
        PASSWORD,
    );
    created.expect_code(0);
    let erin = created.stdout.trim().to_owned();

    // Three sessions, as the application would create them at login.
    let store = SqliteSessionStore::connect(&dir.db_url()).await.unwrap();
    let sessions = SessionManager::new(Arc::new(store), SessionConfig::default()).unwrap();
    let client = ClientInfo {
        user_agent: Some("cli-test-agent".to_owned()),
        ..ClientInfo::default()
    };
    let principal = Principal::new(erin.clone()).with_roles(["viewer"]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            sessions
                .create(&principal, &client)
                .await
                .unwrap()
                .session
                .id()
                .to_owned(),
        );
    }

    let list = run(&dir, &["sessions", "list", "erin@example.com"]);
    list.expect_code(0)
        .stdout_has("cli-test-agent")
        .stderr_has(&format!("3 live sessions of {erin}"));
    for id in &ids {
        list.stdout_has(id);
    }
    // By id as well as by e-mail address.
    run(&dir, &["sessions", "list", &erin])
        .expect_code(0)
        .stdout_has(&ids[0]);

    run(&dir, &["sessions", "revoke", &erin, &ids[0]])
        .expect_code(0)
        .stdout_has(&format!("ended session {}", ids[0]));
    assert_eq!(sessions.list(&erin).await.unwrap().len(), 2);
    // Already gone: a negative answer.
    run(&dir, &["sessions", "revoke", &erin, &ids[0]])
        .expect_code(1)
        .stdout_has("no live session");
    run(&dir, &["sessions", "revoke", "erin@example.com", "--all"])
        .expect_code(0)
        .stdout_has(&format!("ended 2 sessions of {erin}"));
    assert!(sessions.list(&erin).await.unwrap().is_empty());
    run(&dir, &["sessions", "list", "nobody@example.com"])
        .expect_code(1)
        .stderr_has("no user");
}

#[test]
fn memory_stores_are_refused_and_unavailable_stores_exit_4() {
    let dir = Dir::new("stores");
    dir.config(&format!(
        "  secret_key: {SECRET}\n  token: {{ required_audience: a }}\n  roles: {{ viewer: {{}} }}\n"
    ));
    run(&dir, &["users", "list"])
        .expect_code(3)
        .stderr_has("`auth.stores.users` is `memory`");
    run(&dir, &["sessions", "list", "alice"])
        .expect_code(3)
        .stderr_has("`auth.stores.sessions` is `memory`");

    // A SQLite file in a directory that does not exist cannot be opened.
    let missing = dir.path().join("no-such-dir/auth.db");
    dir.config(&format!(
        "  secret_key: {SECRET}\n  token: {{ required_audience: a }}\n  roles: {{ viewer: {{}} }}\n  stores:\n    users: sqlite://{p}\n    sessions: sqlite://{p}\n    revocation: sqlite://{p}\n    api_keys: sqlite://{p}\n",
        p = missing.display()
    ));
    run(&dir, &["users", "list"])
        .expect_code(4)
        .stderr_has("auth.stores.users");
    run(&dir, &["sessions", "revoke", "alice", "--all"])
        .expect_code(4)
        .stderr_has("auth.stores.sessions");
    let token = JwtTokenManager::builder()
        .hmac_key("default", Algorithm::HS256, SECRET)
        .current_key("default")
        .required_audience("a")
        .build()
        .unwrap()
        .sign_access(&Principal::new("alice"))
        .unwrap();
    run(&dir, &["token", "verify", &token])
        .expect_code(4)
        .stderr_has("auth.stores.revocation");
}
