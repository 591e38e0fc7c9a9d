//! What the SQL backends (SQLite and PostgreSQL, through sqlx) share.

use super::StoreError;

/// Sorts a sqlx error into unavailable, corrupt data, configuration or a
/// plain backend failure.
pub(crate) fn sqlx_error(backend: &'static str, error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(backend, error),
        sqlx::Error::Database(ref db) if is_transient(backend, db.code().as_deref()) => {
            StoreError::unavailable(backend, error)
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => StoreError::Corrupt {
            backend,
            detail: "a column of an unexpected type",
        },
        sqlx::Error::Configuration(source) => StoreError::Config { backend, source },
        other => StoreError::backend(backend, other),
    }
}

/// Database errors that mean "not now" rather than "never": a lost or
/// refused connection, a server shutting down or out of resources, a locked
/// SQLite file.
fn is_transient(backend: &'static str, code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if backend == "sqlite" {
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
        code.parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
    } else {
        // SQLSTATE classes 08 (connection exception), 53 (insufficient
        // resources), 57P (operator intervention: shutdown, cannot connect now).
        code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
    }
}

/// Declares a SQL store type: the struct (a pool and a timeout), its `Debug`
/// (no URL, no data), `connect`, `from_pool` (which runs the component's
/// migrations), `with_timeout`, `pool`, and the module's `err` that the
/// trait implementations map sqlx errors with. An optional `counter = name`
/// adds an `AtomicU64` field of that name, starting at 0 (a store that
/// purges expired rows every so many writes counts them there).
macro_rules! sql_store_type {
    (
        $(#[$doc:meta])*
        $name:ident,
        pool = $pool:ty,
        backend = $backend:path,
        connect = $connect:path,
        migrate = $migrate:path,
        migrations = ($component:expr, $migrations:expr),
        url = $url_doc:literal
        $(, counter = $counter:ident)? $(,)?
    ) => {
        $(#[$doc])*
        pub struct $name {
            pool: $pool,
            timeout: std::time::Duration,
            $($counter: std::sync::atomic::AtomicU64,)?
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("timeout", &self.timeout)
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            #[doc = concat!("Opens a pool on `url` (", $url_doc, ") and creates the tables when missing.")]
            ///
            /// # Errors
            ///
            /// [`StoreError::Config`](crate::store::StoreError::Config) for a
            /// malformed URL, other [`StoreError`](crate::store::StoreError)s
            /// when the database cannot be reached or the tables cannot be
            /// created.
            pub async fn connect(url: &str) -> Result<Self, $crate::store::StoreError> {
                let pool = $connect(url, $crate::store::DEFAULT_TIMEOUT).await?;
                Self::from_pool(pool).await
            }

            /// A store on an existing pool (shared with the application's
            /// other tables); creates the tables when missing.
            ///
            /// # Errors
            ///
            /// A [`StoreError`](crate::store::StoreError) when the tables
            /// cannot be created.
            pub async fn from_pool(pool: $pool) -> Result<Self, $crate::store::StoreError> {
                $crate::store::bounded(
                    $backend,
                    $crate::store::DEFAULT_TIMEOUT,
                    $migrate(&pool, $component, $migrations),
                )
                .await?;
                Ok(Self {
                    pool,
                    timeout: $crate::store::DEFAULT_TIMEOUT,
                    $($counter: std::sync::atomic::AtomicU64::new(0),)?
                })
            }

            /// Bounds each operation by `timeout` (default
            /// [`DEFAULT_TIMEOUT`](crate::store::DEFAULT_TIMEOUT)).
            #[must_use]
            pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.timeout = timeout;
                self
            }

            /// The pool, for the application's own queries.
            #[must_use]
            pub fn pool(&self) -> &$pool {
                &self.pool
            }
        }

        fn err(error: sqlx::Error) -> $crate::store::StoreError {
            $crate::store::sql::sqlx_error($backend, error)
        }
    };
}
pub(crate) use sql_store_type;
