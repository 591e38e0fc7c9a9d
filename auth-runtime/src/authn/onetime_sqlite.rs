//! The SQLite one-time token store (feature `sqlite`).

use super::onetime_sql::{self, impl_sql_one_time_store};
use crate::store::sql::sql_store_type;
use crate::store::sqlite::{BACKEND, connect, migrate};

sql_store_type!(
    /// A [`OneTimeTokenStore`](super::OneTimeTokenStore) in SQLite, through
    /// sqlx.
    ///
    /// The table `lexigram_one_time_tokens` holds the SHA-256 of each token
    /// (never the token), its purpose, user, expiry and a used flag; it is
    /// created when the store is opened. A token is used up by one `UPDATE
    /// .. RETURNING`, so it works once even under concurrency. Every
    /// operation is bounded by a timeout (default 2 s).
    ///
    /// ```
    /// use lexigram_auth::authn::{OneTimeToken, OneTimeTokenStore, SqliteOneTimeTokenStore, TokenPurpose};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
    /// let store = SqliteOneTimeTokenStore::connect("sqlite::memory:").await?;
    /// let token = OneTimeToken {
    ///     digest: "ab".repeat(32),
    ///     purpose: TokenPurpose::PasswordReset,
    ///     user_id: "u1".into(),
    ///     created_at: 1_000,
    ///     expires_at: 2_800,
    /// };
    /// store.insert(&token).await?;
    /// let purpose = TokenPurpose::PasswordReset;
    /// assert_eq!(store.consume(&token.digest, purpose, 1_001).await?.as_deref(), Some("u1"));
    /// assert_eq!(store.consume(&token.digest, purpose, 1_002).await?, None);
    /// # Ok(())
    /// # }
    /// ```
    SqliteOneTimeTokenStore,
    pool = sqlx::sqlite::SqlitePool,
    backend = BACKEND,
    connect = connect,
    migrate = migrate,
    migrations = (onetime_sql::COMPONENT, onetime_sql::MIGRATIONS),
    url = "`sqlite://auth.db`, `sqlite::memory:`; a file is created when missing",
);

impl_sql_one_time_store!(SqliteOneTimeTokenStore, backend = BACKEND);
