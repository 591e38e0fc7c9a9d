//! The PostgreSQL session store (feature `postgres`).

use super::sql::{self, impl_sql_session_store};
use crate::store::postgres::{BACKEND, connect, migrate};
use crate::store::sql::sql_store_type;

/// Serialises the writes that change how many sessions one user has (`$1`
/// the user) until the transaction ends. The two-key form keeps these locks
/// apart from the single-key ones (schema migrations).
const USER_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('lexigram_sessions'), hashtext($1))";

sql_store_type!(
    /// A [`SessionStore`](super::SessionStore) in PostgreSQL, through sqlx.
    ///
    /// For several application instances sharing one database. The table
    /// `lexigram_sessions` (sessions by key, the SHA-256 of the token; never
    /// the token) is created when the store is opened, under an advisory
    /// lock so instances starting together do not race. Writes that change
    /// how many sessions a user has under a limit (an insert with a limit, a
    /// rotation, "log out everywhere") run in a transaction holding a
    /// per-user advisory lock
    /// (`pg_advisory_xact_lock`): they serialise per user, never across
    /// users, so a user never has more live sessions than the limit however
    /// many logins race on however many instances. Records that are no
    /// longer live are never returned nor counted; they are deleted every
    /// 1024 writes and by
    /// [`purge_expired`](super::SessionStore::purge_expired). Every operation
    /// is bounded by a timeout (default 2 s), so a dead server fails closed
    /// quickly with [`StoreError::Unavailable`](crate::store::StoreError::Unavailable).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lexigram_auth::Principal;
    /// use lexigram_auth::session::{ClientInfo, PostgresSessionStore, SessionConfig, SessionManager};
    ///
    /// # async fn demo() -> Result<(), lexigram_auth::error::SessionError> {
    /// let store = PostgresSessionStore::connect("postgres://app@127.0.0.1:5432/app")
    ///     .await?
    ///     .with_timeout(Duration::from_millis(500));
    /// let sessions = SessionManager::new(
    ///     Arc::new(store),
    ///     SessionConfig { max_sessions_per_user: Some(5), ..SessionConfig::default() },
    /// )?;
    /// let client = ClientInfo::default();
    /// let login = sessions.create(&Principal::new("alice"), &client).await?;
    /// assert_eq!(sessions.validate(login.token.expose(), &client).await?.user_id(), "alice");
    /// # Ok(())
    /// # }
    /// ```
    PostgresSessionStore,
    pool = sqlx::postgres::PgPool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (sql::COMPONENT, sql::MIGRATIONS),
    url = "`postgres://user:password@host:port/database`",
    counter = writes,
);

impl_sql_session_store!(
    PostgresSessionStore,
    db = sqlx::Postgres,
    backend = BACKEND,
    begin = "BEGIN",
    user_lock = Some(USER_LOCK),
);
