//! The SQLite session store (feature `sqlite`).

use super::sql::{self, impl_sql_session_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
    /// A [`SessionStore`](super::SessionStore) in SQLite, through sqlx.
    ///
    /// For a single application instance whose sessions survive a restart.
    /// The table `lexigram_sessions` (sessions by key, the SHA-256 of the
    /// token; never the token) is created when the store is opened. Writes
    /// that must be atomic (an insert under a session limit, a rotation,
    /// "log out everywhere") run
    /// in an immediate transaction, so they serialise on the database lock:
    /// a user never has more live sessions than the limit, however many
    /// logins race. Records that are no longer live are never returned nor
    /// counted; they are deleted every 1024 writes and by
    /// [`purge_expired`](super::SessionStore::purge_expired). Every
    /// operation is bounded by a timeout (default 2 s).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lexigram_auth::Principal;
    /// use lexigram_auth::session::{ClientInfo, SessionConfig, SessionManager, SqliteSessionStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lexigram_auth::error::SessionError> {
    /// // Or "sqlite://auth.db" for a file, created when missing.
    /// let store = SqliteSessionStore::connect("sqlite::memory:").await?;
    /// let sessions = SessionManager::new(
    ///     Arc::new(store),
    ///     SessionConfig { max_sessions_per_user: Some(5), ..SessionConfig::default() },
    /// )?;
    /// let client = ClientInfo::default();
    /// let login = sessions.create(&Principal::new("alice"), &client).await?;
    /// assert_eq!(sessions.validate(login.token.expose(), &client).await?.user_id(), "alice");
    /// assert_eq!(sessions.revoke_all("alice").await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    SqliteSessionStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
    counter = writes,
);

impl_sql_session_store!(
    SqliteSessionStore,
    db = sqlx::Sqlite,
    backend = BACKEND,
    begin = "BEGIN IMMEDIATE",
    user_lock = None,
);
