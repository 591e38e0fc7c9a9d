//! Loading, substitution, overrides, validation per environment, and the
//! conversions into the runtime's types.

use std::time::Duration;

use super::*;
use crate::Principal;
use crate::authn::{AccountConfig, DEFAULT_PASSWORD_HISTORY, LockoutConfig};
use crate::environment::Environment;
use crate::password::{Argon2Params, PasswordConfig, PasswordContext};
use crate::session::{CookieConfig, DevicePolicy, LimitPolicy, SameSite, SessionConfig};
use crate::token::{Algorithm, DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_REFRESH_TTL};

const ALL_ENVS: [Environment; 4] = [
    Environment::Development,
    Environment::Test,
    Environment::Staging,
    Environment::Production,
];

/// 44 bytes of random-looking text.
const GOOD_SECRET: &str = "q7Vd2xLm9RkT4pWz8NcY1sHb6JfGu3Ea0iOeK5tMvQrX";

fn loader(vars: &[(&str, &str)]) -> ConfigLoader {
    ConfigLoader::with_variables(vars.iter().copied().collect())
}

fn yaml(text: &str) -> AuthConfig {
    loader(&[]).yaml_str(text).unwrap()
}

/// A configuration that passes in production.
fn good() -> AuthConfig {
    let mut c = AuthConfig {
        secret_key: Some(Secret::new(GOOD_SECRET)),
        ..AuthConfig::default()
    };
    c.token.required_audience = Some("articles-api".into());
    c
}

// ------------------------------------------------------------- defaults

#[test]
fn defaults_are_the_runtime_defaults() {
    let c = AuthConfig::default();
    assert_eq!(c.session_config(), SessionConfig::default());
    assert_eq!(c.lockout_config(), LockoutConfig::default());
    assert_eq!(c.password_config(), PasswordConfig::default());
    assert_eq!(c.argon2_params(), Argon2Params::default());
    assert_eq!(
        c.argon2_params(),
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
    assert_eq!(c.cookie_config(), CookieConfig::default());
    assert_eq!(c.account_config(), AccountConfig::default());
    assert_eq!(c.password_history(), DEFAULT_PASSWORD_HISTORY);
    assert_eq!(c.token.algorithm, Algorithm::HS256);
    assert_eq!(c.token.access_ttl, DEFAULT_ACCESS_TTL);
    assert_eq!(c.token.refresh_ttl, DEFAULT_REFRESH_TTL);
    assert_eq!(c.token.leeway, DEFAULT_LEEWAY);
    assert_eq!(c.max_sessions_per_user, None);
    assert_eq!(c.mfa.issuer, "lexigram");
    let quota = c.login_quota().unwrap();
    assert_eq!(
        (quota.limit(), quota.period()),
        (5, Duration::from_secs(60))
    );
    for (_, url, _) in c.stores.entries() {
        assert_eq!(url.backend(), StoreBackend::Memory);
    }
}

#[test]
fn an_empty_section_is_the_default() {
    assert_eq!(yaml("auth:\n"), AuthConfig::default());
    assert_eq!(yaml("auth: {}\nother: 1\n"), AuthConfig::default());
    assert_eq!(
        loader(&[]).toml_str("[auth]\n").unwrap(),
        AuthConfig::default()
    );
}

#[test]
fn a_document_without_auth_is_an_error() {
    for text in ["", "server:\n  port: 80\n", "- a\n- b\n"] {
        assert_eq!(
            loader(&[]).yaml_str(text).unwrap_err(),
            ConfigError::MissingSection,
            "{text:?}"
        );
    }
    assert_eq!(
        loader(&[]).toml_str("[server]\nport = 1\n").unwrap_err(),
        ConfigError::MissingSection
    );
    let e = loader(&[]).yaml_str("auth: 5\n").unwrap_err();
    assert_eq!(e.issues()[0].path, "auth");
}

// ------------------------------------------------------------ the example

const EXAMPLE: &str = include_str!("../../../examples/application.yaml");

fn example_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AUTH_SECRET_KEY", GOOD_SECRET),
        ("GOOGLE_CLIENT_ID", "1234-articles.apps.example.com"),
        ("GOOGLE_CLIENT_SECRET", "GOCSPX-9f8e7d6c5b4a3f2e1d0c9b8a"),
    ]
}

#[test]
fn the_example_file_loads_and_passes_in_production() {
    let l = loader(&example_vars());
    let c = l.yaml_str(EXAMPLE).unwrap();
    assert_eq!(c.secret_key, Some(Secret::new(GOOD_SECRET)));
    assert_eq!(c.stores.users.backend(), StoreBackend::Sqlite);
    assert_eq!(c.stores.users.url(), "sqlite://articles.db");
    assert_eq!(c.max_sessions_per_user, Some(5));
    assert_eq!(c.roles.len(), 4);
    if !cfg!(feature = "sqlite") {
        return;
    }
    let warnings = c.validate(Environment::Production).unwrap();
    // Sessions in memory, and the OAuth2 provider not used yet.
    let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        ["auth.stores.sessions", "auth.oauth2_providers.google"]
    );
    // And from the file itself.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/application.yaml");
    assert_eq!(l.file(path).unwrap(), c);
}

#[test]
fn the_example_without_its_secret_variable_names_it() {
    let e = loader(&[]).yaml_str(EXAMPLE).unwrap_err();
    assert_eq!(
        e,
        ConfigError::UndefinedVariable {
            variable: "AUTH_SECRET_KEY".into(),
            key: "auth.secret_key".into()
        }
    );
    assert!(e.to_string().contains("`auth.secret_key`"), "{e}");
}

#[test]
fn toml_reads_the_same_as_yaml() {
    let yaml_text = r#"
auth:
  secret_key: ${S}
  token:
    algorithm: HS384
    current_key: k2
    keys:
      k1: ${K1}
      k2: { secret: "${K2}", algorithm: HS256 }
    access_ttl: 5m
    refresh_ttl: 1d
    issuer: https://issuer.example
    required_audience: api
    leeway: 10
    rotation_grace: 1h
  permissions: [articles.read, articles.write]
  roles:
    editor: { inherits: [viewer], permissions: [articles.write], description: Writes }
    viewer: { permissions: [articles.read] }
  rbac: { default_role: viewer }
  password:
    min_length: 14
    require_special: true
    banned_patterns: [acme]
    history: 3
    argon2: { memory_kib: 47104, iterations: 1, parallelism: 2 }
  lockout: { max_failures: 3, window: 10m, lockout: 1h }
  rate_limit:
    login: { limit: 10, period: 30s }
    trusted_proxies: [10.0.0.0/8]
  session:
    idle_timeout: 20m
    absolute_timeout: 8h
    touch_interval: 30s
    limit_policy: deny_new
    device_policy: enforce
    cookie: { secure: true, same_site: strict, max_age: null, allowed_origins: [https://app.example] }
  max_sessions_per_user: 2
  stores: { users: "postgres://u:p@db/app", sessions: "redis://cache", lockout: "redis://cache" }
  oauth2_providers:
    github: { client_id: "12345", client_secret: "${GH}" }
  mfa: { issuer: Articles }
"#;
    let toml_text = r#"
[auth]
secret_key = "${S}"
permissions = ["articles.read", "articles.write"]
max_sessions_per_user = 2

[auth.token]
algorithm = "HS384"
current_key = "k2"
access_ttl = "5m"
refresh_ttl = "1d"
issuer = "https://issuer.example"
required_audience = "api"
leeway = 10
rotation_grace = "1h"

[auth.token.keys]
k1 = "${K1}"
k2 = { secret = "${K2}", algorithm = "HS256" }

[auth.roles.editor]
inherits = ["viewer"]
permissions = ["articles.write"]
description = "Writes"

[auth.roles.viewer]
permissions = ["articles.read"]

[auth.rbac]
default_role = "viewer"

[auth.password]
min_length = 14
require_special = true
banned_patterns = ["acme"]
history = 3
argon2 = { memory_kib = 47104, iterations = 1, parallelism = 2 }

[auth.lockout]
max_failures = 3
window = "10m"
lockout = "1h"

[auth.rate_limit]
login = { limit = 10, period = "30s" }
trusted_proxies = ["10.0.0.0/8"]

[auth.session]
idle_timeout = "20m"
absolute_timeout = "8h"
touch_interval = "30s"
limit_policy = "deny_new"
device_policy = "enforce"

[auth.session.cookie]
secure = true
same_site = "strict"
allowed_origins = ["https://app.example"]

[auth.stores]
users = "postgres://u:p@db/app"
sessions = "redis://cache"
lockout = "redis://cache"

[auth.oauth2_providers.github]
client_id = 12345
client_secret = "${GH}"

[auth.mfa]
issuer = "Articles"
"#;
    let vars = [
        ("S", GOOD_SECRET),
        ("K1", "k1-secret-of-forty-eight-bytes-for-hs384-0123456"),
        ("K2", "k2-secret-of-thirty-two-bytes-ok!!"),
        ("GH", "gh-client-secret-value-0a1b2c3d"),
    ];
    let from_yaml = loader(&vars).yaml_str(yaml_text).unwrap();
    let mut from_toml = loader(&vars).toml_str(toml_text).unwrap();
    // TOML has no null: a browser-session cookie is only expressible in YAML.
    assert_eq!(from_toml.session.cookie.max_age, None);
    from_toml.session.cookie.max_age = Some(None);
    assert_eq!(from_yaml, from_toml);

    let c = from_yaml;
    if cfg!(all(feature = "postgres", feature = "redis")) {
        c.validate(Environment::Production).unwrap();
    }
    assert_eq!(c.session_config().limit_policy, LimitPolicy::DenyNew);
    assert_eq!(c.session_config().device_policy, DevicePolicy::Enforce);
    assert_eq!(c.session_config().max_sessions_per_user, Some(2));
    assert_eq!(c.cookie_config().same_site, SameSite::Strict);
    assert_eq!(c.cookie_config().max_age, None);
    assert_eq!(c.oauth2_providers["github"].client_id, "12345");
    assert_eq!(c.stores.users.backend(), StoreBackend::Postgres);
    assert_eq!(c.lockout_config().lockout_seconds, 3600);
    let m = c.token_manager().unwrap();
    assert_eq!(m.current_key_id().as_deref(), Some("k2"));
    assert_eq!(m.key_ids(), ["k1", "k2"]);
    assert_eq!(m.rotation_grace(), Duration::from_secs(3600));
    assert_eq!(m.leeway(), Duration::from_secs(10));
}

// ---------------------------------------------------------- substitution

#[test]
fn substitution_defined_default_and_escape() {
    let l = loader(&[("AUD", "articles-api"), ("EMPTY", ""), ("N", "4")]);
    let c = l
        .yaml_str(
            r#"
auth:
  token:
    required_audience: ${AUD}
    issuer: "https://${HOST:-auth.example}/${AUD}"
  mfa: { issuer: "${EMPTY:-Fallback}" }
  max_sessions_per_user: ${N}
  rbac: { default_role: "$${literal}" }
  password: { banned_patterns: ["cost$5", "$$", "${AUD}-x"] }
"#,
        )
        .unwrap();
    assert_eq!(c.token.required_audience.as_deref(), Some("articles-api"));
    assert_eq!(
        c.token.issuer.as_deref(),
        Some("https://auth.example/articles-api")
    );
    // `:-` also replaces a variable that is set but empty, as in the shell.
    assert_eq!(c.mfa.issuer, "Fallback");
    // A value that is one `${...}` is typed: here a number.
    assert_eq!(c.max_sessions_per_user, Some(4));
    assert_eq!(c.rbac.default_role, "${literal}");
    assert_eq!(
        c.password.banned_patterns,
        ["cost$5", "$$", "articles-api-x"]
    );
}

#[test]
fn substitution_errors_name_the_variable_and_the_key() {
    let e = loader(&[])
        .yaml_str("auth:\n  roles:\n    viewer:\n      permissions: [\"${MISSING}\"]\n")
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::UndefinedVariable {
            variable: "MISSING".into(),
            key: "auth.roles.viewer.permissions[0]".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "`auth.roles.viewer.permissions[0]` uses `${MISSING}`, which is not set; set it or write `${MISSING:-default}`"
    );
    let e = loader(&[])
        .yaml_str("auth:\n  secret_key: \"${OPEN\"\n")
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::UnclosedVariable {
            key: "auth.secret_key".into()
        }
    );
    // A variable that is set but empty, without a default, stays empty.
    let c = loader(&[("E", "")])
        .yaml_str("auth:\n  token: { issuer: \"x${E}y\" }\n")
        .unwrap();
    assert_eq!(c.token.issuer.as_deref(), Some("xy"));
}

#[test]
fn substituted_values_are_typed_like_yaml_scalars() {
    for (text, expected) in [
        ("true", serde_json::json!(true)),
        ("False", serde_json::json!(false)),
        ("42", serde_json::json!(42)),
        ("-7", serde_json::json!(-7)),
        ("007", serde_json::json!("007")),
        ("+5", serde_json::json!("+5")),
        ("1.5", serde_json::json!("1.5")),
        ("[a, b]", serde_json::json!(["a", "b"])),
        ("[unclosed", serde_json::json!("[unclosed")),
        (
            "[10.0.0.0/8, ::1]",
            serde_json::json!(["10.0.0.0/8", "::1"]),
        ),
        ("[]", serde_json::json!([])),
        ("{a: 1}", serde_json::json!("{a: 1}")),
        ("", serde_json::json!("")),
        ("null", serde_json::Value::Null),
        ("text: with colon", serde_json::json!("text: with colon")),
        (
            "99999999999999999999",
            serde_json::json!("99999999999999999999"),
        ),
    ] {
        assert_eq!(load::scalar_for_tests(text), expected, "{text:?}");
    }
    // Text keys accept numbers, so a numeric secret or id reads as text.
    let c = loader(&[("ID", "1234567"), ("SECRET", "1234")])
        .yaml_str("auth:\n  secret_key: ${SECRET}\n  oauth2_providers:\n    gh: { client_id: \"${ID}\", client_secret: x }\n")
        .unwrap();
    assert_eq!(c.oauth2_providers["gh"].client_id, "1234567");
    assert_eq!(c.secret_key, Some(Secret::new("1234")));
}

// ------------------------------------------------------------- overrides

#[test]
fn overrides_set_nested_keys_with_types() {
    let l = loader(&[
        ("LEX_AUTH__TOKEN__ACCESS_TTL", "5m"),
        ("LEX_AUTH__Token__Required_Audience", "from-env"),
        ("LEX_AUTH__MAX_SESSIONS_PER_USER", "3"),
        ("LEX_AUTH__SESSION__COOKIE__SECURE", "false"),
        ("LEX_AUTH__RATE_LIMIT__TRUSTED_PROXIES", "[10.0.0.0/8, ::1]"),
        ("LEX_AUTH__ROLES__VIEWER__PERMISSIONS", "[articles.read]"),
        ("LEX_AUTH__PASSWORD__ARGON2__MEMORY_KIB", "47104"),
        ("LEX_AUTH__SECRET_KEY", GOOD_SECRET),
        ("OTHER_VAR", "ignored"),
    ]);
    let c = l
        .yaml_str(
            "auth:\n  token:\n    access_ttl: 15m\n    required_audience: from-file\n  roles:\n    Viewer: { permissions: [x.y] }\n",
        )
        .unwrap();
    assert_eq!(c.token.access_ttl, Duration::from_secs(300));
    assert_eq!(c.token.required_audience.as_deref(), Some("from-env"));
    assert_eq!(c.max_sessions_per_user, Some(3));
    assert!(!c.session.cookie.secure);
    assert_eq!(c.rate_limit.trusted_proxies, ["10.0.0.0/8", "::1"]);
    // Keys match case-insensitively: the file's `Viewer` is overridden.
    assert_eq!(c.roles.len(), 1);
    assert_eq!(c.roles["Viewer"].permissions, ["articles.read"]);
    assert_eq!(c.password.argon2.memory_kib, 47_104);
    assert_eq!(c.secret_key, Some(Secret::new(GOOD_SECRET)));
}

#[test]
fn overrides_beat_substitution_and_create_sections() {
    let c = loader(&[
        ("AUD", "file"),
        ("LEX_AUTH__TOKEN__REQUIRED_AUDIENCE", "env"),
        ("LEX_AUTH__LOCKOUT__MAX_FAILURES", "9"),
    ])
    .yaml_str("auth:\n  token: { required_audience: \"${AUD}\" }\n  lockout:\n")
    .unwrap();
    assert_eq!(c.token.required_audience.as_deref(), Some("env"));
    assert_eq!(c.lockout.max_failures, 9);
}

#[test]
fn bad_overrides_are_errors() {
    let e = loader(&[("LEX_AUTH__RATE_LIMIT__LOGIN__LIMIT", "3")])
        .yaml_str("auth:\n  rate_limit: { login: 5/minute }\n")
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Override { variable, reason }
            if variable == "LEX_AUTH__RATE_LIMIT__LOGIN__LIMIT"
            && reason.contains("`auth.rate_limit.login` is a value")),
        "{e}"
    );
    for name in [
        "LEX_AUTH__",
        "LEX_AUTH__TOKEN____ISSUER",
        "LEX_AUTH__TOKEN__",
    ] {
        let e = loader(&[(name, "x")]).yaml_str("auth:\n").unwrap_err();
        assert!(matches!(e, ConfigError::Override { .. }), "{name}: {e}");
    }
    // A misspelt override is an unknown key, named.
    let e = loader(&[("LEX_AUTH__TOKEN__ACESS_TTL", "5m")])
        .yaml_str("auth:\n")
        .unwrap_err();
    assert_eq!(e.issues()[0].path, "auth.token.acess_ttl");
    // A value of the wrong type names the key.
    let e = loader(&[("LEX_AUTH__MAX_SESSIONS_PER_USER", "many")])
        .yaml_str("auth:\n")
        .unwrap_err();
    assert_eq!(e.issues()[0].path, "auth.max_sessions_per_user");
}

#[test]
fn the_environment_comes_from_lex_env() {
    assert_eq!(loader(&[]).environment().unwrap(), Environment::Production);
    for env in ALL_ENVS {
        assert_eq!(
            loader(&[("LEX_ENV", env.as_str())]).environment().unwrap(),
            env
        );
    }
    assert!(matches!(
        loader(&[("LEX_ENV", "dev")]).environment(),
        Err(ConfigError::Environment(_))
    ));
}

// ---------------------------------------------------- unknown keys, types

#[test]
fn unknown_keys_are_errors_naming_them() {
    for (text, path, field) in [
        (
            "auth:\n  secret_keys: x\n",
            "auth.secret_keys",
            "secret_keys",
        ),
        (
            "auth:\n  token:\n    acess_ttl: 5m\n",
            "auth.token.acess_ttl",
            "acess_ttl",
        ),
        (
            "auth:\n  session:\n    cookie:\n      samesite: lax\n",
            "auth.session.cookie.samesite",
            "samesite",
        ),
        (
            "auth:\n  roles:\n    viewer: { permission: [a.b] }\n",
            "auth.roles.viewer.permission",
            "permission",
        ),
        (
            "auth:\n  token:\n    keys:\n      k1: { secret: x, alg: HS256 }\n",
            "auth.token.keys.k1.alg",
            "alg",
        ),
        (
            "auth:\n  oauth2_providers:\n    google: { client_id: a, client_secret: b, tenant: c }\n",
            "auth.oauth2_providers.google.tenant",
            "tenant",
        ),
        (
            "auth:\n  password:\n    bcrypt_rounds: 12\n",
            "auth.password.bcrypt_rounds",
            "bcrypt_rounds",
        ),
    ] {
        let e = loader(&[]).yaml_str(text).unwrap_err();
        let issue = &e.issues()[0];
        assert_eq!(issue.path, path, "{text}: {e}");
        assert!(
            issue.problem.starts_with("is not a known key (expected "),
            "{e}"
        );
        assert!(issue.path.ends_with(field), "{e}");
        assert!(
            e.to_string()
                .contains("remove the key or correct its spelling"),
            "{e}"
        );
    }
}

#[test]
fn values_of_the_wrong_type_name_the_key() {
    for (text, path) in [
        (
            "auth:\n  token:\n    access_ttl: 15 minutes\n",
            "auth.token.access_ttl",
        ),
        (
            "auth:\n  token:\n    algorithm: hs256\n",
            "auth.token.algorithm",
        ),
        ("auth:\n  lockout:\n    window: -5\n", "auth.lockout.window"),
        (
            "auth:\n  rate_limit:\n    login: lots\n",
            "auth.rate_limit.login",
        ),
        (
            "auth:\n  session:\n    limit_policy: lru\n",
            "auth.session.limit_policy",
        ),
        (
            "auth:\n  stores:\n    users: mysql://db\n",
            "auth.stores.users",
        ),
        (
            "auth:\n  token:\n    keys:\n      k1: { pem: a, jwk: b }\n",
            "auth.token.keys.k1",
        ),
        (
            "auth:\n  oauth2_providers:\n    google: { client_id: a }\n",
            "auth.oauth2_providers.google",
        ),
        (
            "auth:\n  password:\n    min_length: twelve\n",
            "auth.password.min_length",
        ),
    ] {
        let e = loader(&[]).yaml_str(text).unwrap_err();
        assert_eq!(e.issues()[0].path, path, "{text}: {e}");
    }
    // A store URL's credentials never appear in the error.
    let e = loader(&[])
        .yaml_str("auth:\n  stores:\n    users: \"mysql://root:hunter2@db\"\n")
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

// ------------------------------------------------------------ syntax errors

#[test]
fn broken_yaml_gives_line_and_column() {
    let text = "auth:\n  token:\n    access_ttl: 15m\n   issuer: [unclosed\n";
    let e = loader(&[]).yaml_str(text).unwrap_err();
    let ConfigError::Syntax {
        format,
        line,
        column,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*format, "YAML");
    assert_eq!(*line, Some(4), "{e}");
    assert!(column.is_some(), "{e}");
    assert!(
        e.to_string().starts_with("invalid YAML at line 4, column "),
        "{e}"
    );

    let e = loader(&[])
        .yaml_str("auth:\n  mfa:\n    issuer: \"a\n")
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Syntax {
                line: Some(_),
                column: Some(_),
                ..
            }
        ),
        "{e}"
    );

    // A key given twice is refused, with its place.
    let e = loader(&[])
        .yaml_str("auth:\n  secret_key: a\n  secret_key: b\n")
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Syntax { line: Some(_), message, .. } if message.contains("`secret_key` is given twice")),
        "{e}"
    );
}

#[test]
fn broken_files_name_the_file() {
    let dir = std::env::temp_dir().join(format!("lexigram-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml_path = dir.join("application.yaml");
    std::fs::write(&yaml_path, "auth:\n  token: {\n").unwrap();
    let e = loader(&[]).file(&yaml_path).unwrap_err();
    let ConfigError::Syntax { origin, line, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        origin.as_deref(),
        Some(yaml_path.display().to_string().as_str())
    );
    assert!(line.is_some());

    let toml_path = dir.join("application.toml");
    std::fs::write(
        &toml_path,
        "[auth]\nsecret_key = \"a\"\nmax_sessions_per_user = = 3\n",
    )
    .unwrap();
    let e = loader(&[]).file(&toml_path).unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::Syntax {
                format: "TOML",
                line: Some(3),
                column: Some(_),
                ..
            }
        ),
        "{e}"
    );

    std::fs::write(&toml_path, "[auth]\nmax_sessions_per_user = 3\n").unwrap();
    assert_eq!(
        loader(&[]).file(&toml_path).unwrap().max_sessions_per_user,
        Some(3)
    );

    assert!(matches!(
        loader(&[]).file(dir.join("application.json")),
        Err(ConfigError::UnsupportedFormat(_))
    ));
    assert!(matches!(
        loader(&[]).file(dir.join("missing.yaml")),
        Err(ConfigError::Read { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

// -------------------------------------------------- validation per environment

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Warning,
    Error,
}

/// The outcome of `config` in `env` for the key `path`.
fn outcome(config: &AuthConfig, env: Environment, path: &str) -> Outcome {
    match config.validate(env) {
        Err(errors) if errors.has(path) => Outcome::Error,
        Err(errors) => panic!("{env}: unexpected problems: {errors}"),
        Ok(warnings) if warnings.iter().any(|w| w.path == path) => Outcome::Warning,
        Ok(_) => Outcome::Ok,
    }
}

/// Checks one rule in the four environments (development, test, staging,
/// production).
fn rule(config: &AuthConfig, path: &str, expected: [Outcome; 4]) {
    for (env, want) in ALL_ENVS.into_iter().zip(expected) {
        assert_eq!(outcome(config, env, path), want, "{path} in {env}");
    }
}

use Outcome::{Error as E, Ok as O, Warning as W};

#[test]
fn the_good_configuration_passes_everywhere() {
    for env in ALL_ENVS {
        let warnings = good().validate(env).unwrap();
        // Only the memory stores, in staging and production.
        assert!(
            warnings.iter().all(|w| w.path.starts_with("auth.stores.")),
            "{env}: {warnings:?}"
        );
        assert_eq!(
            warnings.is_empty(),
            env.is_development() || env == Environment::Test
        );
    }
}

#[test]
fn rule_missing_secret() {
    let mut c = good();
    c.secret_key = None;
    rule(&c, "auth.secret_key", [W, W, E, E]);
    // In development and test it becomes a random secret that works.
    for env in [Environment::Development, Environment::Test] {
        let checked = c.clone().check(env).unwrap();
        assert_eq!(checked.warnings.len(), 1);
        assert!(checked.warnings[0].message.contains("random secret"));
        let m = checked.config.token_manager().unwrap();
        let token = m.sign_access(&Principal::new("alice")).unwrap();
        assert_eq!(m.verify_access(&token).unwrap().user_id, "alice");
        assert!(checked.config.session_cookies(env).is_ok() || env == Environment::Test);
    }
    for env in [Environment::Staging, Environment::Production] {
        let errors = c.clone().check(env).unwrap_err();
        assert!(errors.has("auth.secret_key"));
    }
}

#[test]
fn rule_well_known_secret() {
    for secret in [
        "change-me-change-me-change-me-change-me",
        "your-secret-key-your-secret-key-your-secret-key",
        "test-secret-key-for-testing-only",
        "CHANGEME-in-production-0123456789abcdef",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let mut c = good();
        c.secret_key = Some(Secret::new(secret));
        rule(&c, "auth.secret_key", [W, W, E, E]);
    }
    // In a key of `token.keys` and as the cookie key, too.
    let mut c = good();
    c.token.keys.insert(
        "k1".into(),
        KeySource::Secret {
            secret: Secret::new("placeholder-secret-of-thirty-two-bytes"),
            algorithm: None,
        },
    );
    rule(&c, "auth.token.keys.k1", [W, W, E, E]);
    let mut c = good();
    c.session.cookie.key = Some(Secret::new("replace-me-with-32-random-bytes-please"));
    rule(&c, "auth.session.cookie.key", [W, W, E, E]);
}

#[test]
fn rule_short_secret_per_algorithm() {
    // The token manager refuses these in every environment.
    for (alg, len) in [
        (Algorithm::HS256, 31),
        (Algorithm::HS384, 47),
        (Algorithm::HS512, 63),
    ] {
        let mut c = good();
        c.token.algorithm = alg;
        c.secret_key = Some(Secret::new(&GOOD_SECRET.repeat(2)[..len]));
        rule(&c, "auth.secret_key", [E, E, E, E]);
        let e = c.validate(Environment::Development).unwrap_err();
        assert!(
            e.issues()[0].problem.contains(&format!("{len} bytes long")),
            "{e}"
        );
        c.secret_key = Some(Secret::new(&GOOD_SECRET.repeat(2)[..len + 1]));
        rule(&c, "auth.secret_key", [O, O, O, O]);
    }
    // The seed's own example secret is short: an error everywhere.
    let mut c = good();
    c.secret_key = Some(Secret::new("your-secret-key"));
    rule(&c, "auth.secret_key", [E, E, E, E]);
}

#[test]
fn rule_required_audience() {
    let mut c = good();
    c.token.required_audience = None;
    rule(&c, "auth.token.required_audience", [O, O, E, E]);
    let e = c.validate(Environment::Production).unwrap_err();
    assert_eq!(
        e.issues()[0].to_string(),
        "`auth.token.required_audience` is not set, and production requires it; fix: set it to the audience this service accepts, such as `articles-api`"
    );
}

#[test]
fn rule_argon2_floors() {
    for (m, t, p) in [
        (8_192, 2, 1),
        (19_456, 1, 1),
        (19_456, 2, 0),
        (300_000, 2, 1),
    ] {
        let mut c = good();
        c.password.argon2 = Argon2Section {
            memory_kib: m,
            iterations: t,
            parallelism: p,
        };
        rule(&c, "auth.password.argon2", [E, E, E, E]);
    }
    let mut c = good();
    c.password.argon2.memory_kib = 47_104;
    c.password.argon2.iterations = 1;
    rule(&c, "auth.password.argon2", [O, O, O, O]);
}

#[test]
fn rule_allow_unverified_dev() {
    let mut c = good();
    c.token.allow_unverified_dev = true;
    rule(&c, "auth.token.allow_unverified_dev", [W, E, E, E]);
    c.token.remote_jwks = Some(RemoteJwksSection {
        url: "https://login.example/jwks.json".into(),
        issuer: "https://login.example".into(),
        audience: None,
    });
    if !cfg!(feature = "remote-jwks") {
        rule(&c, "auth.token.remote_jwks", [E, E, E, E]);
        return;
    }
    rule(&c, "auth.token.allow_unverified_dev", [W, E, E, E]);
    let builder = c.remote_jwks_for_tests();
    assert!(builder.is_some());
    let w = c.validate(Environment::Development).unwrap();
    assert!(w[0].message.contains("WITHOUT signature verification"));
}

#[test]
fn rule_insecure_cookie() {
    let mut c = good();
    c.session.cookie.secure = false;
    rule(&c, "auth.session.cookie.secure", [O, E, E, E]);
    // In development the cookies drop the `__Host-` prefix and work.
    let cookies = c.session_cookies(Environment::Development).unwrap();
    assert_eq!(cookies.config().name, "lexigram-session");
    assert_eq!(cookies.config().csrf_name, "lexigram-csrf");
}

#[test]
fn rule_memory_stores() {
    // Data lost on restart: a warning in staging and production only.
    for path in [
        "auth.stores.users",
        "auth.stores.api_keys",
        "auth.stores.sessions",
    ] {
        rule(&good(), path, [O, O, W, W]);
    }
    // Not for counters and revocations, which are rebuilt or short-lived.
    for path in [
        "auth.stores.lockout",
        "auth.stores.rate_limit",
        "auth.stores.revocation",
    ] {
        rule(&good(), path, [O, O, O, O]);
    }
}

#[test]
fn validation_reports_every_problem_at_once() {
    let c = loader(&[])
        .yaml_str(
            r#"
auth:
  secret_key: change-me
  token: { allow_unverified_dev: true }
  password: { min_length: 20, max_length: 10, argon2: { memory_kib: 1024 } }
  lockout: { max_failures: 0 }
  session: { cookie: { secure: false } }
  mfa: { issuer: "a:b" }
"#,
        )
        .unwrap();
    let errors = c.validate(Environment::Production).unwrap_err();
    for path in [
        "auth.secret_key",
        "auth.token.required_audience",
        "auth.token.allow_unverified_dev",
        "auth.password",
        "auth.password.argon2",
        "auth.lockout.max_failures",
        "auth.session.cookie.secure",
        "auth.mfa.issuer",
    ] {
        assert!(errors.has(path), "{path} missing from {errors}");
    }
    let text = errors.to_string();
    assert!(text.starts_with("invalid auth configuration, "), "{text}");
    assert!(text.lines().count() > 8, "{text}");
    // Every problem says how to fix it.
    assert!(errors.issues().iter().all(|i| !i.fix.is_empty()));
}

#[test]
fn other_rules_name_their_keys() {
    let cases: Vec<(&str, &str)> = vec![
        (
            "roles: { a: { inherits: [b] }, b: { inherits: [a] } }",
            "auth.roles",
        ),
        (
            "roles: { a: { inherits: [ghost] } }",
            "auth.roles.a.inherits",
        ),
        ("roles: { Bad: {} }", "auth.roles.Bad"),
        (
            "permissions: [articles.read]\n  roles: { viewer: { permissions: [articles.raed] } }",
            "auth.roles.viewer.permissions",
        ),
        ("permissions: [Articles]", "auth.permissions[0]"),
        ("permissions: [a.b, a.b]", "auth.permissions[1]"),
        (
            "roles: { admin: {} }\n  rbac: { default_role: viewer }",
            "auth.rbac.default_role",
        ),
        (
            "roles: { a: { description: \"two\\nlines\" } }\n  rbac: { default_role: a }",
            "auth.roles.a.description",
        ),
        (
            "token: { current_key: nope, keys: { k1: q7Vd2xLm9RkT4pWz8NcY1sHb6JfGu3Ea0iOeK5tM } }",
            "auth.token.current_key",
        ),
        ("token: { access_ttl: 0 }", "auth.token.access_ttl"),
        ("token: { issuer: \"\" }", "auth.token.issuer"),
        ("token: { algorithm: RS256 }", "auth.secret_key"),
        (
            "password: { common_passwords_file: /nonexistent/list.txt }",
            "auth.password.common_passwords_file",
        ),
        ("lockout: { window: 0 }", "auth.lockout.window"),
        ("rate_limit: { login: 0/minute }", "auth.rate_limit.login"),
        (
            "rate_limit: { trusted_proxies: [10.0.0.0/8, not-an-ip] }",
            "auth.rate_limit.trusted_proxies[1]",
        ),
        ("session: { touch_interval: 1h }", "auth.session"),
        ("max_sessions_per_user: 0", "auth.max_sessions_per_user"),
        (
            "session: { cookie: { key: short } }",
            "auth.session.cookie.key",
        ),
        (
            "session: { cookie: { name: \"bad name\" } }",
            "auth.session.cookie",
        ),
        (
            "stores: { lockout: \"sqlite://x.db\" }",
            "auth.stores.lockout",
        ),
        ("stores: { users: \"redis://cache\" }", "auth.stores.users"),
        (
            "oauth2_providers: { google: { client_id: \"\", client_secret: abc-xyz-123-QRS } }",
            "auth.oauth2_providers.google.client_id",
        ),
        (
            "oauth2_providers: { Google: { client_id: a, client_secret: abc-xyz-123-QRS } }",
            "auth.oauth2_providers.Google",
        ),
        ("mfa: { issuer: \"\" }", "auth.mfa.issuer"),
        (
            "token: { remote_jwks: { url: \"http://login.example/jwks\", issuer: i } }",
            "auth.token.remote_jwks.url",
        ),
    ];
    for (section, path) in cases {
        let text = format!("auth:\n  secret_key: {GOOD_SECRET}\n  {section}\n");
        let c = loader(&[]).yaml_str(&text).unwrap();
        let errors = c.validate(Environment::Development).expect_err(section);
        assert!(errors.has(path), "{section}: {errors}");
    }
    // Loopback http is fine for a JWKS.
    if cfg!(feature = "remote-jwks") {
        let c = yaml(&format!(
            "auth:\n  secret_key: {GOOD_SECRET}\n  token: {{ required_audience: a, remote_jwks: {{ url: \"http://127.0.0.1:8080/jwks\", issuer: i }} }}\n"
        ));
        c.validate(Environment::Production).unwrap();
    }
}

#[test]
fn several_signing_keys_need_a_current_key() {
    let mut c = good();
    c.secret_key = Some(Secret::new(GOOD_SECRET));
    for kid in ["k1", "k2"] {
        c.token.keys.insert(
            kid.into(),
            KeySource::Secret {
                secret: Secret::new(format!("{kid}-{GOOD_SECRET}")),
                algorithm: None,
            },
        );
    }
    let errors = c.validate(Environment::Development).unwrap_err();
    assert!(errors.has("auth.token.current_key"), "{errors}");
    c.token.current_key = Some("k2".into());
    c.validate(Environment::Production).unwrap();
}

// ------------------------------------------------------------- conversions

#[tokio::test]
async fn the_token_manager_signs_and_verifies_with_the_configured_claims() {
    let c = yaml(&format!(
        "auth:\n  secret_key: {GOOD_SECRET}\n  token:\n    issuer: https://auth.example\n    required_audience: articles-api\n    access_ttl: 2m\n"
    ));
    let m = c.token_manager().unwrap();
    assert_eq!(m.current_key_id().as_deref(), Some(DEFAULT_KID));
    assert_eq!(m.access_ttl(), Duration::from_secs(120));
    let token = m.create_access_token("user-123").await.unwrap();
    let v = m.verify_token(&token).await.unwrap();
    assert_eq!(v.user_id, "user-123");
    assert_eq!(v.audience, ["articles-api"]);
    // Another audience's manager with the same key refuses it.
    let other = yaml(&format!(
        "auth:\n  secret_key: {GOOD_SECRET}\n  token:\n    issuer: https://auth.example\n    required_audience: billing\n"
    ))
    .token_manager()
    .unwrap();
    assert!(other.verify_token(&token).await.is_err());
}

#[test]
fn keys_from_pem_files_inline_pem_and_jwk() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/keys");
    let pem = std::fs::read_to_string(format!("{dir}/p256.pem")).unwrap();
    let yaml_text = format!(
        r#"
auth:
  token:
    algorithm: ES256
    current_key: file
    keys:
      file: {{ pem_file: "{dir}/ed25519.pem", algorithm: EdDSA }}
      inline: {{ pem: "${{PEM}}" }}
      public: {{ pem_file: "{dir}/p256.pub.pem" }}
      oct: {{ jwk: {{ kty: oct, alg: HS256, k: "cTdWZDJ4TG05UmtUNHBXejhOY1kxc0hiNkpmR3UzRWEw" }} }}
"#
    );
    let c = loader(&[("PEM", pem.as_str())])
        .yaml_str(&yaml_text)
        .unwrap();
    let m = c.token_manager().unwrap();
    assert_eq!(m.key_ids(), ["file", "inline", "oct", "public"]);
    let token = m.sign_access(&Principal::new("bob")).unwrap();
    assert_eq!(m.verify_access(&token).unwrap().kid, "file");
    assert_eq!(m.jwks().keys.len(), 3);
    // A key that cannot be read names its key path.
    let bad = yaml(
        "auth:\n  token:\n    keys:\n      k: { pem_file: /nonexistent.pem, algorithm: ES256 }\n",
    );
    let e = bad.token_manager().unwrap_err();
    assert_eq!(e.issues()[0].path, "auth.token.keys.k.pem_file");
    let bad = yaml("auth:\n  token:\n    keys:\n      k: { pem: not-a-pem }\n");
    assert_eq!(
        bad.token_manager().unwrap_err().issues()[0].path,
        "auth.token.keys.k.pem"
    );
}

#[test]
fn the_password_conversions_produce_working_objects() {
    let c = yaml(
        "auth:\n  password:\n    min_length: 16\n    banned_patterns: [acme]\n    history: 2\n",
    );
    let policy = c.password_policy().unwrap();
    let context = PasswordContext::new();
    assert!(policy.validate("Short-Pass-1", &context).is_err());
    assert!(
        policy
            .validate("Acme-Long-Enough-Pass-1", &context)
            .is_err()
    );
    assert!(policy.validate("Correct-Horse-Battery-9", &context).is_ok());
    assert_eq!(c.password_history(), 2);
    let hasher = c.password_hasher().unwrap();
    assert_eq!(hasher.params(), Argon2Params::default());
}

#[test]
fn the_session_and_limit_conversions() {
    let c = yaml(&format!(
        "auth:\n  secret_key: {GOOD_SECRET}\n  session:\n    absolute_timeout: 2h\n    cookie: {{ allowed_origins: [\"https://app.example\"] }}\n  rate_limit:\n    login: 10/minute\n    trusted_proxies: [10.0.0.0/8]\n  lockout: {{ max_failures: 3, window: 1m, lockout: 10m }}\n"
    ));
    assert_eq!(c.cookie_config().max_age, Some(7200));
    let cookies = c.session_cookies(Environment::Production).unwrap();
    assert_eq!(cookies.config().name, "__Host-lexigram-session");
    assert_eq!(cookies.config().allowed_origins, ["https://app.example"]);
    // The cookie key is derived, not the token secret itself.
    let key = c.cookie_key().unwrap();
    assert_eq!(key.len(), 32);
    assert_ne!(key.as_slice(), &GOOD_SECRET.as_bytes()[..32]);
    let quota = c.login_quota().unwrap();
    assert_eq!(
        (quota.limit(), quota.period()),
        (10, Duration::from_secs(60))
    );
    let proxies = c.trusted_proxies().unwrap();
    let headers = http::HeaderMap::new();
    assert_eq!(
        proxies.client("10.1.2.3".parse().unwrap(), &headers),
        "10.1.2.3".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(
        c.lockout_config(),
        LockoutConfig {
            max_failures: 3,
            window_seconds: 60,
            lockout_seconds: 600
        }
    );
    // Without any key, cookies cannot be made, and the error says why.
    let e = AuthConfig::default()
        .session_cookies(Environment::Development)
        .unwrap_err();
    assert_eq!(e.issues()[0].path, "auth.session.cookie.key");
}

#[test]
fn rates_are_written_several_ways() {
    for (text, limit, secs) in [
        ("5/minute", 5, 60),
        ("100/hour", 100, 3600),
        ("3/second", 3, 1),
        ("1000/day", 1000, 86_400),
        ("5/30s", 5, 30),
        (" 7 / m ", 7, 60),
    ] {
        let q: QuotaSpec = text.parse().unwrap();
        assert_eq!(
            (q.limit, q.period),
            (limit, Duration::from_secs(secs)),
            "{text}"
        );
    }
    for bad in ["5", "five/minute", "5/fortnight", "/minute", "-1/minute"] {
        assert!(bad.parse::<QuotaSpec>().is_err(), "{bad}");
    }
}

#[test]
fn the_authorization_conversions() {
    let c = yaml(
        "auth:\n  roles:\n    editor: { inherits: [viewer], permissions: [articles.write] }\n    viewer: { permissions: [articles.read] }\n  rbac: { default_role: editor }\n",
    );
    let authz = c.authorization_service().unwrap();
    let alice = Principal::new("alice").with_roles(["editor"]);
    assert!(authz.authorize(&alice, "articles", "read").is_ok());
    assert_eq!(c.account_config().default_roles, ["editor"]);
    assert!(c.permission_catalog().is_empty());
}

// ---------------------------------------------------------------- secrets

#[test]
fn debug_never_prints_secrets() {
    let l = loader(&example_vars());
    let mut c = l.yaml_str(EXAMPLE).unwrap();
    c.stores.users = StoreUrl::parse("postgres://app:pg-hunter2@db:5432/app").unwrap();
    c.session.cookie.key = Some(Secret::new("cookie-key-hunter3-0123456789abcdef"));
    let text = format!("{c:?}");
    for secret in [
        GOOD_SECRET,
        "pg-hunter2",
        "cookie-key-hunter3",
        "GOCSPX-9f8e7d6c5b4a3f2e1d0c9b8a",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("postgres://app:***@db:5432/app"), "{text}");
    assert_eq!(
        StoreUrl::parse("redis://:pw@cache:6379/0")
            .unwrap()
            .redacted(),
        "redis://:***@cache:6379/0"
    );
    assert_eq!(
        StoreUrl::parse("sqlite://articles.db").unwrap().redacted(),
        "sqlite://articles.db"
    );
}

#[test]
fn well_known_detection() {
    for s in [
        "secret",
        "Password",
        " change-me ",
        "my-CHANGEME-key-0123456789",
        "abababababababab",
    ] {
        assert!(validate::well_known(s).is_some(), "{s}");
    }
    assert!(validate::well_known(GOOD_SECRET).is_none());
}

impl AuthConfig {
    /// Whether a remote verifier would be built (feature `remote-jwks`).
    fn remote_jwks_for_tests(&self) -> Option<()> {
        #[cfg(feature = "remote-jwks")]
        return self.remote_jwks().map(|_| ());
        #[cfg(not(feature = "remote-jwks"))]
        return None;
    }
}
