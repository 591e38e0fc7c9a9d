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
