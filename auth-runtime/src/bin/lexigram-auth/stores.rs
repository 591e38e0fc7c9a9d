//! Opening the stores named by the configuration's `stores` section.
//!
//! SQLite is always built into the tool (feature `cli` implies `sqlite`);
//! PostgreSQL and Redis when the tool is built with the `postgres` and
//! `redis` features. A `memory` store holds nothing between two runs of the
//! tool, so the user and session commands refuse it.

use std::sync::Arc;

use lexigram_auth::authn::{SqliteUserStore, UserStore};
use lexigram_auth::config::{AuthConfig, StoreBackend, StoreUrl};
use lexigram_auth::revocation::{RevocationStore, SqliteRevocationStore};
use lexigram_auth::session::{SessionManager, SessionStore, SqliteSessionStore};

use crate::exit::CliError;

fn memory_refused(key: &str) -> CliError {
    CliError::config(format!(
        "`auth.stores.{key}` is `memory`, which holds nothing outside the running application; \
         this command needs the store the application uses (`sqlite://...`, `postgres://...`)"
    ))
}

#[cfg(not(all(feature = "postgres", feature = "redis")))]
fn not_built(key: &str, backend: StoreBackend) -> CliError {
    CliError::config(format!(
        "`auth.stores.{key}` is a {name} store, which this build of lexigram-auth cannot open; \
         build it with `--features cli,{name}`",
        name = backend.as_str()
    ))
}

fn unusable(key: &str, backend: StoreBackend) -> CliError {
    CliError::config(format!(
        "`auth.stores.{key}` cannot be a {} store",
        backend.as_str()
    ))
}

fn opened<T>(
    key: &str,
    url: &StoreUrl,
    result: Result<T, lexigram_auth::store::StoreError>,
) -> Result<T, CliError> {
    result.map_err(|e| CliError::store(&format!("`auth.stores.{key}` ({})", url.redacted()), &e))
}

/// The user store of `stores.users`.
pub(crate) async fn user_store(config: &AuthConfig) -> Result<Arc<dyn UserStore>, CliError> {
    let url = &config.stores.users;
    match url.backend() {
        StoreBackend::Memory => Err(memory_refused("users")),
        StoreBackend::Sqlite => Ok(Arc::new(opened(
            "users",
            url,
            SqliteUserStore::connect(url.url()).await,
        )?)),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(opened(
            "users",
            url,
            lexigram_auth::authn::PostgresUserStore::connect(url.url()).await,
        )?)),
        #[cfg(not(feature = "postgres"))]
        StoreBackend::Postgres => Err(not_built("users", StoreBackend::Postgres)),
        other => Err(unusable("users", other)),
    }
}

/// The session store of `stores.sessions`.
pub(crate) async fn session_store(config: &AuthConfig) -> Result<Arc<dyn SessionStore>, CliError> {
    let url = &config.stores.sessions;
    match url.backend() {
        StoreBackend::Memory => Err(memory_refused("sessions")),
        StoreBackend::Sqlite => Ok(Arc::new(opened(
            "sessions",
            url,
            SqliteSessionStore::connect(url.url()).await,
        )?)),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Ok(Arc::new(opened(
            "sessions",
            url,
            lexigram_auth::session::PostgresSessionStore::connect(url.url()).await,
        )?)),
        #[cfg(not(feature = "postgres"))]
        StoreBackend::Postgres => Err(not_built("sessions", StoreBackend::Postgres)),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Ok(Arc::new(opened(
            "sessions",
            url,
            lexigram_auth::session::RedisSessionStore::connect(url.url()).await,
        )?)),
        #[cfg(not(feature = "redis"))]
        StoreBackend::Redis => Err(not_built("sessions", StoreBackend::Redis)),
        other => Err(unusable("sessions", other)),
    }
}

/// The session manager over `stores.sessions`, with the configured
/// session settings.
pub(crate) async fn session_manager(config: &AuthConfig) -> Result<SessionManager, CliError> {
    let store = session_store(config).await?;
    SessionManager::new(store, config.session_config())
        .map_err(|e| CliError::config(format!("`auth.session`: {e}")))
}

/// The revocation store of `stores.revocation`; `None` for `memory` (the
/// token manager's own in-memory store, empty in this process).
pub(crate) async fn revocation_store(
    config: &AuthConfig,
) -> Result<Option<Arc<dyn RevocationStore>>, CliError> {
    let url = &config.stores.revocation;
    let store: Arc<dyn RevocationStore> = match url.backend() {
        StoreBackend::Memory => return Ok(None),
        StoreBackend::Sqlite => Arc::new(opened(
            "revocation",
            url,
            SqliteRevocationStore::connect(url.url()).await,
        )?),
        #[cfg(feature = "postgres")]
        StoreBackend::Postgres => Arc::new(opened(
            "revocation",
            url,
            lexigram_auth::revocation::PostgresRevocationStore::connect(url.url()).await,
        )?),
        #[cfg(not(feature = "postgres"))]
        StoreBackend::Postgres => return Err(not_built("revocation", StoreBackend::Postgres)),
        #[cfg(feature = "redis")]
        StoreBackend::Redis => Arc::new(opened(
            "revocation",
            url,
            lexigram_auth::revocation::RedisRevocationStore::connect(url.url()).await,
        )?),
        #[cfg(not(feature = "redis"))]
        StoreBackend::Redis => return Err(not_built("revocation", StoreBackend::Redis)),
        other => return Err(unusable("revocation", other)),
    };
    Ok(Some(store))
}
