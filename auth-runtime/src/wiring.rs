//! `AuthModule::configure`: every service and store built from an
//! [`AuthConfig`] (MOD-1).

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use ::axum::Router;

use crate::AuthModule;
use crate::apikey::{ApiKeyStore, ApiKeys, MemoryApiKeyStore};
use crate::authn::{
    AuthenticationService, LockoutStore, LoginMode, MemoryLockoutStore, MemoryUserStore, UserStore,
    auth_routes_with,
};
use crate::config::{AuthConfig, CheckedConfig, ConfigLoader, LoginAnswer, StoreBackend, StoreUrl};
use crate::error::ConfigError;
use crate::ratelimit::{MemoryRateLimiter, RateLimitLayer, RateLimiter};
use crate::revocation::{MemoryRevocationStore, RevocationStore};
use crate::session::{MemorySessionStore, SessionAuth, SessionManager, SessionStore};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
use crate::store::StoreError;

/// What [`AuthModule::configure`] adds to a module: the login service and
/// the routes' settings.
#[derive(Debug, Clone)]
pub(crate) struct Wired {
    pub(crate) service: Arc<AuthenticationService>,
    pub(crate) login: LoginMode,
    pub(crate) login_limit: RateLimitLayer,
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
fn store_error(store: &'static str, error: &StoreError) -> ConfigError {
    ConfigError::Store {
        store,
        reason: error.to_string(),
    }
}

fn disabled(store: &'static str, url: &StoreUrl) -> ConfigError {
    ConfigError::Store {
        store,
        reason: format!(
            "the `{}` backend is not compiled in; enable lexigram-auth's `{}` feature",
            url.backend().as_str(),
            url.backend().as_str()
        ),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
async fn open<T, F>(store: &'static str, made: F) -> Result<T, ConfigError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    made.await.map_err(|error| store_error(store, &error))
}

async fn users(url: &StoreUrl) -> Result<Arc<dyn UserStore>, ConfigError> {
    const NAME: &str = "users";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemoryUserStore::new())),
        #[cfg(feature = "sqlite")]
        StoreBackend::Sqlite => Ok(Arc::new(
            open(NAME, crate::authn::SqliteUserStore::connect(url.url())).await?,
        )),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(
            open(NAME, crate::authn::PostgresUserStore::connect(url.url())).await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

async fn revocation(url: &StoreUrl) -> Result<Arc<dyn RevocationStore>, ConfigError> {
    const NAME: &str = "revocation";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemoryRevocationStore::new())),
        #[cfg(feature = "sqlite")]
        StoreBackend::Sqlite => Ok(Arc::new(
            open(
                NAME,
                crate::revocation::SqliteRevocationStore::connect(url.url()),
            )
            .await?,
        )),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(
            open(
                NAME,
                crate::revocation::PostgresRevocationStore::connect(url.url()),
            )
            .await?,
        )),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(
            open(
                NAME,
                crate::revocation::RedisRevocationStore::connect(url.url()),
            )
            .await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

async fn sessions(url: &StoreUrl) -> Result<Arc<dyn SessionStore>, ConfigError> {
    const NAME: &str = "sessions";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemorySessionStore::new())),
        #[cfg(feature = "sqlite")]
        StoreBackend::Sqlite => Ok(Arc::new(
            open(NAME, crate::session::SqliteSessionStore::connect(url.url())).await?,
        )),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(
            open(
                NAME,
                crate::session::PostgresSessionStore::connect(url.url()),
            )
            .await?,
        )),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(
            open(NAME, crate::session::RedisSessionStore::connect(url.url())).await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

async fn api_keys(url: &StoreUrl) -> Result<Arc<dyn ApiKeyStore>, ConfigError> {
    const NAME: &str = "api_keys";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemoryApiKeyStore::new())),
        #[cfg(feature = "sqlite")]
        StoreBackend::Sqlite => Ok(Arc::new(
            open(NAME, crate::apikey::SqliteApiKeyStore::connect(url.url())).await?,
        )),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(
            open(NAME, crate::apikey::PostgresApiKeyStore::connect(url.url())).await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

async fn lockout(url: &StoreUrl) -> Result<Arc<dyn LockoutStore>, ConfigError> {
    const NAME: &str = "lockout";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemoryLockoutStore::new())),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(
            open(NAME, crate::authn::RedisLockoutStore::connect(url.url())).await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

async fn rate_limiter(url: &StoreUrl) -> Result<Arc<dyn RateLimiter>, ConfigError> {
    const NAME: &str = "rate_limit";
    match url.backend() {
        StoreBackend::Memory => Ok(Arc::new(MemoryRateLimiter::new())),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(
            open(NAME, crate::ratelimit::RedisRateLimiter::connect(url.url())).await?,
        )),
        #[allow(unreachable_patterns)]
        _ => Err(disabled(NAME, url)),
    }
}

impl AuthModule {
    /// Builds every service and store from a [checked](AuthConfig::check)
    /// configuration (the seed's `AuthModule.configure(config=config.auth)`):
    /// the token manager with its revocation store, the role graph, the user,
    /// session, API-key, lockout and rate-limit stores named by `stores:`
    /// (opened, tables created), the password hasher and policy, the
    /// [`AuthenticationService`] and, with `session.login: cookies`, the
    /// session cookies. Serve [`routes`](Self::routes) for login and the
    /// account flows.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use lexigram_auth::config::ConfigLoader;
    /// use lexigram_auth::{AuthModule, require_permissions};
    ///
    /// #[require_permissions("articles.write")]
    /// async fn publish() -> &'static str { "published" }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let yaml = r#"
    /// auth:
    ///   secret_key: "a-32-byte-or-longer-hmac-secret-for-the-doc"
    ///   token:
    ///     required_audience: articles-api
    ///   roles:
    ///     viewer: { permissions: ["articles.read"] }
    ///     editor: { permissions: ["articles.write"], inherits: ["viewer"] }
    ///   stores:
    ///     users: "sqlite::memory:"
    /// "#;
    /// let config = ConfigLoader::new().yaml_str(yaml)?;
    /// let checked = config.check(lexigram_auth::environment::Environment::Production)?;
    /// let auth = AuthModule::configure(&checked).await?;
    /// let app: Router = Router::new()
    ///     .route("/publish", get(publish))
    ///     .nest("/auth", auth.routes())
    ///     .with_state(auth);
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Store`] naming a store that cannot be opened (or whose
    /// backend is not compiled in), or the error of the first section that
    /// cannot be built.
    pub async fn configure(checked: &CheckedConfig) -> Result<Self, ConfigError> {
        let config: &AuthConfig = &checked.config;
        let stores = &config.stores;
        for warning in &checked.warnings {
            tracing::warn!(key = %warning.path, "{}", warning.message);
        }
        let tokens = Arc::new(
            config
                .token_manager_builder()?
                .revocation_store(revocation(&stores.revocation).await?)
                .build()?,
        );
        let users = users(&stores.users).await?;
        let session_manager =
            SessionManager::new(sessions(&stores.sessions).await?, config.session_config())
                .map_err(|error| {
                    ConfigError::from(crate::error::ConfigIssue::new(
                        "auth.session",
                        error.to_string(),
                        "fix the session timeouts and limit",
                    ))
                })?;
        let service = AuthenticationService::new(
            Arc::clone(&users),
            config.password_hasher()?,
            Arc::clone(&tokens),
        )
        .lockout(crate::authn::Lockout::new(
            lockout(&stores.lockout).await?,
            config.lockout_config(),
        ))
        .password_policy(config.password_policy()?)
        .password_history(config.password_history())
        .account_config(config.account_config())
        .sessions(session_manager.clone());
        let keys = ApiKeys::new(api_keys(&stores.api_keys).await?);
        let mut builder = AuthModule::builder()
            .tokens(Arc::clone(&tokens))
            .api_keys(keys);
        let authz = config.authorization_service()?;
        let login = match config.session.login {
            LoginAnswer::Tokens => LoginMode::Tokens,
            LoginAnswer::Cookies => {
                let cookies = config.session_cookies(checked.environment)?;
                let auth = SessionAuth::new(session_manager, cookies);
                builder = builder.sessions(auth.clone());
                LoginMode::Cookies(Box::new(auth))
            }
        };
        let login_limit = RateLimitLayer::new(
            rate_limiter(&stores.rate_limit).await?,
            config.login_quota()?,
        )
        .trusted_proxies(config.trusted_proxies()?)
        .name("login");
        let module = builder
            .authorization(authz)
            .wired(Wired {
                service: Arc::new(service),
                login,
                login_limit,
            })
            .build()?;
        Ok(module)
    }

    /// Loads `path` (YAML's `auth:` section or TOML's `[auth]`, with
    /// `${VAR}` substitution and `LEX_AUTH__` overrides), checks it for the
    /// environment of `LEX_ENV`, and [configures](Self::configure) the
    /// module.
    ///
    /// # Errors
    /// Any [`ConfigError`]: the file, its syntax, every invalid key at once
    /// ([`ConfigError::Invalid`]), or a store that cannot be opened.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let checked = ConfigLoader::new().load_file(path)?;
        Self::configure(&checked).await
    }

    /// The login service of a [configured](Self::configure) module.
    #[must_use]
    pub fn authentication(&self) -> Option<&Arc<AuthenticationService>> {
        self.wired().map(|w| &w.service)
    }

    /// The ready-made login and account routes of a
    /// [configured](Self::configure) module (see
    /// [`auth_routes_with`](crate::authn::auth_routes_with)), answering
    /// logins as `session.login` says, rate-limited per client and route by
    /// `rate_limit.login`. Nest them, e.g. under `/auth`. A module that was
    /// not configured from a file has no routes (an empty router).
    pub fn routes<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        match self.wired() {
            Some(wired) => auth_routes_with(Arc::clone(&wired.service), wired.login.clone())
                .route_layer(wired.login_limit.clone()),
            None => Router::new(),
        }
    }
}
