//! MOD-2: the example `application.yaml`, loaded with injected variables,
//! builds a working module; validation per environment through the loader.

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use lexigram_auth::config::{ConfigLoader, StoreBackend, Variables};
use lexigram_auth::environment::Environment;
use lexigram_auth::error::ConfigError;
use lexigram_auth::{AuthModule, Principal, require_permissions};

use crate::support::{get as get_req, send};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/application.yaml");
const SECRET: &str = "q7Vd2xLm9RkT4pWz8NcY1sHb6JfGu3Ea0iOeK5tMvQrX";

fn vars(env: &str) -> Variables {
    Variables::from_iter([
        ("AUTH_SECRET_KEY", SECRET),
        ("GOOGLE_CLIENT_ID", "1234-articles.apps.example.com"),
        ("GOOGLE_CLIENT_SECRET", "GOCSPX-9f8e7d6c5b4a3f2e1d0c9b8a"),
        ("LEX_ENV", env),
    ])
}

#[require_permissions("articles.write")]
async fn write() -> &'static str {
    "written"
}

#[tokio::test]
async fn the_example_file_builds_a_working_module() {
    let checked = ConfigLoader::with_variables(vars("production"))
        .load_file(EXAMPLE)
        .unwrap();
    assert_eq!(checked.environment, Environment::Production);
    let config = &checked.config;
    assert_eq!(config.stores.users.backend(), StoreBackend::Sqlite);

    let auth = AuthModule::builder()
        .tokens(config.token_manager().unwrap())
        .roles(config.roles.clone())
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/write", get(write))
        .with_state(auth.clone());
    let editor = auth
        .token_for(&Principal::new("alice").with_roles(["editor"]))
        .unwrap();
    let viewer = auth
        .token_for(&Principal::new("bob").with_roles(["viewer"]))
        .unwrap();
    assert_eq!(
        send(&app, get_req("/write", Some(&editor))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_req("/write", Some(&viewer))).await.status,
        StatusCode::FORBIDDEN
    );
    // The token carries the configured audience and issuer.
    let verified = auth.tokens().verify_access(&editor).unwrap();
    assert_eq!(verified.audience, ["articles-api"]);

    // The other conversions the module's wiring uses.
    config.password_policy().unwrap();
    config.password_hasher().unwrap();
    config.login_quota().unwrap();
    config.session_cookies(checked.environment).unwrap();
}

#[test]
fn the_loader_applies_lex_env_and_overrides() {
    // Overrides reach the checked configuration.
    let mut v: Vec<(String, String)> = vec![
        ("AUTH_SECRET_KEY".into(), SECRET.into()),
        ("LEX_ENV".into(), "staging".into()),
        (
            "LEX_AUTH__TOKEN__REQUIRED_AUDIENCE".into(),
            "other-api".into(),
        ),
    ];
    let text = "auth:\n  secret_key: ${AUTH_SECRET_KEY}\n";
    let loader = ConfigLoader::with_variables(v.iter().cloned().collect());
    let checked = loader
        .yaml_str(text)
        .unwrap()
        .check(loader.environment().unwrap())
        .unwrap();
    assert_eq!(
        checked.config.token.required_audience.as_deref(),
        Some("other-api")
    );

    // Without the audience, staging refuses the file and says how to fix it.
    v.pop();
    let loader = ConfigLoader::with_variables(v.iter().cloned().collect());
    let config = loader.yaml_str(text).unwrap();
    let errors = config.check(loader.environment().unwrap()).unwrap_err();
    assert!(errors.has("auth.token.required_audience"), "{errors}");

    // The example in production without the Google secret: the variable is
    // defaulted to a development placeholder, which production refuses.
    let loader = ConfigLoader::with_variables(Variables::from_iter([
        ("AUTH_SECRET_KEY", SECRET),
        ("LEX_ENV", "production"),
    ]));
    let Err(ConfigError::Invalid(errors)) = loader.load_file(EXAMPLE) else {
        panic!("the placeholder client secret was accepted")
    };
    assert!(
        errors.has("auth.oauth2_providers.google.client_secret"),
        "{errors}"
    );
    // The same file is fine in development.
    let loader = ConfigLoader::with_variables(Variables::from_iter([
        ("AUTH_SECRET_KEY", SECRET),
        ("LEX_ENV", "development"),
    ]));
    let checked = loader.load_file(EXAMPLE).unwrap();
    assert!(
        checked
            .warnings
            .iter()
            .any(|w| w.path == "auth.oauth2_providers.google.client_secret")
    );
}
