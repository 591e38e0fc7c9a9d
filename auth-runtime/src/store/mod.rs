//! Plumbing shared by the storage backends.
//!
//! Every store trait of the crate (such as
//! [`RevocationStore`](crate::revocation::RevocationStore)) returns a
//! [`StoreFuture`] and fails with a [`StoreError`], whatever the backend.
//! The connection helpers and schema migrations for SQLite (feature
//! `sqlite`), PostgreSQL (`postgres`) and Redis (`redis`) live here so each
//! store only writes its own queries.
//!
//! A store failure must never be read as "not revoked" or "not found": a
//! caller that gets a [`StoreError`] fails closed.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use thiserror::Error;

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// The future every store operation returns.
///
/// Boxed so that store traits stay object safe and can be held as
/// `Arc<dyn Trait>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The cause carried by a [`StoreError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// How long a network store waits for an answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A store operation that did not complete.
///
/// No variant carries a key, a token id, a user id or a connection URL, so
/// the error can be logged as it is.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time. Retrying
    /// later may succeed; until then, checks fail closed.
    ///
    /// [`StoreError::is_timeout`] tells a missing answer from a refused or
    /// dropped connection.
    #[error("the {backend} store is unavailable")]
    Unavailable {
        /// Which backend: `sqlite`, `postgres`, `redis`, ...
        backend: &'static str,
        /// The underlying failure: a [`TimedOut`] (or the client library's
        /// own timeout error) when no answer came.
        #[source]
        source: BoxError,
    },
    /// The backend answered with data this crate did not write or cannot
    /// read back (a value of the wrong type or out of range).
    #[error("the {backend} store returned corrupt data: {detail}")]
    Corrupt {
        /// Which backend.
        backend: &'static str,
        /// What was wrong, without the value itself.
        detail: &'static str,
    },
    /// The backend answered with an error other than unavailability (a
    /// failed query or script, missing privileges, ...).
    #[error("the {backend} store failed")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The store could not be configured (a malformed URL or option).
    #[error("invalid {backend} store configuration")]
    Config {
        /// Which backend.
        backend: &'static str,
        /// What the backend's client said.
        #[source]
        source: BoxError,
    },
    /// An identifier passed to the store is empty or longer than
    /// [`MAX_ID_LEN`] bytes.
    #[error("invalid {what}: it must be 1 to {MAX_ID_LEN} bytes long")]
    InvalidId {
        /// Which identifier: `token id`, `user id` or `refresh family id`.
        what: &'static str,
    },
    /// A name passed to the store breaks its grammar (a tenant id or a role
    /// name of a [tenant role assignment](crate::authn::TenantRoleStore)).
    /// Nothing was read or written.
    #[error(transparent)]
    InvalidName(#[from] crate::error::NameError),
}

impl StoreError {
    /// Whether the backend could not be reached or did not answer in time,
    /// as opposed to answering with an error or with corrupt data.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Whether the backend did not answer within the store's timeout.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Unavailable { source, .. } => is_timeout_cause(source.as_ref()),
            _ => false,
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
    pub(crate) fn unavailable(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            backend,
            source: source.into(),
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
    pub(crate) fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            backend,
            source: source.into(),
        }
    }
}

/// The cause of a [`StoreError::Unavailable`] when the backend gave no
/// answer within the store's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("no answer within {after:?}")]
pub struct TimedOut {
    /// The timeout that elapsed.
    pub after: Duration,
}

/// Whether an unavailability cause is a missing answer: our own
/// [`TimedOut`], or a client library's own timeout (sqlx waiting for a pool
/// connection, Redis waiting for a response).
fn is_timeout_cause(source: &(dyn StdError + Send + Sync + 'static)) -> bool {
    if source.is::<TimedOut>() {
        return true;
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    if let Some(sqlx::Error::PoolTimedOut) = source.downcast_ref::<sqlx::Error>() {
        return true;
    }
    #[cfg(feature = "redis")]
    if source
        .downcast_ref::<::redis::RedisError>()
        .is_some_and(::redis::RedisError::is_timeout)
    {
        return true;
    }
    false
}

/// The longest identifier (token id, user id, refresh family id) a store
/// accepts, in bytes.
pub const MAX_ID_LEN: usize = 1024;

/// Refuses empty and oversized identifiers, so that no backend builds an
/// empty key or an unbounded one.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<(), StoreError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        Err(StoreError::InvalidId { what })
    } else {
        Ok(())
    }
}

/// The longest time a record is kept, ten years: caps absurd expiry
/// instants so that TTLs and SQL integers never overflow.
pub(crate) const MAX_KEEP_SECS: u64 = 10 * 365 * 24 * 60 * 60;

/// `until`, capped at [`MAX_KEEP_SECS`] after `now`.
pub(crate) fn cap_until(until: u64, now: u64) -> u64 {
    until.min(now.saturating_add(MAX_KEEP_SECS))
}

/// Runs one backend operation under `timeout`: a backend that does not
/// answer becomes [`StoreError::Unavailable`] with a [`TimedOut`] cause.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) async fn bounded<T>(
    backend: &'static str,
    timeout: Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result,
        Err(_elapsed) => Err(StoreError::unavailable(
            backend,
            TimedOut { after: timeout },
        )),
    }
}

/// Unix seconds as a SQL `BIGINT`, saturating (values are capped long
/// before `i64::MAX` anyway).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn to_sql_secs(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// An instant as two SQL `BIGINT`s, whole seconds since the Unix epoch and
/// nanoseconds (`0..1_000_000_000`) after them, so that it reads back
/// exactly: instants before the epoch have negative seconds; instants
/// beyond `i64::MAX` seconds (none on Linux) saturate.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn to_sql_instant(at: std::time::SystemTime) -> (i64, i64) {
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => match i64::try_from(after.as_secs()) {
            Ok(secs) => (secs, i64::from(after.subsec_nanos())),
            Err(_) => (i64::MAX, 999_999_999),
        },
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (-secs, 0),
                nanos => ((-secs).saturating_sub(1), i64::from(1_000_000_000 - nanos)),
            }
        }
    }
}

/// Two SQL `BIGINT`s written by [`to_sql_instant`] read back as an instant.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn from_sql_instant(
    backend: &'static str,
    secs: i64,
    nanos: i64,
) -> Result<std::time::SystemTime, StoreError> {
    let corrupt = |detail| StoreError::Corrupt { backend, detail };
    let nanos = u32::try_from(nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .ok_or_else(|| corrupt("a nanoseconds column out of range"))?;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let at = if secs >= 0 {
        std::time::UNIX_EPOCH.checked_add(whole)
    } else {
        std::time::UNIX_EPOCH.checked_sub(whole)
    };
    at.and_then(|at| at.checked_add(Duration::from_nanos(u64::from(nanos))))
        .ok_or_else(|| corrupt("an instant out of range"))
}

/// A SQL `BIGINT` read back as Unix seconds.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn from_sql_secs(backend: &'static str, secs: i64) -> Result<u64, StoreError> {
    u64::try_from(secs).map_err(|_| StoreError::Corrupt {
        backend,
        detail: "a negative timestamp",
    })
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::{from_sql_instant, to_sql_instant};

    #[test]
    fn instants_round_trip_through_two_sql_integers() {
        let instants = [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH + Duration::from_nanos(1),
            UNIX_EPOCH - Duration::from_nanos(1),
            UNIX_EPOCH - Duration::new(86_400, 250_000_000),
            UNIX_EPOCH - Duration::from_secs(3),
            SystemTime::now(),
        ];
        for at in instants {
            let (secs, nanos) = to_sql_instant(at);
            assert!((0..1_000_000_000).contains(&nanos), "{at:?}");
            assert_eq!(from_sql_instant("test", secs, nanos).unwrap(), at);
        }
        assert_eq!(
            to_sql_instant(UNIX_EPOCH - Duration::from_nanos(1)),
            (-1, 999_999_999)
        );
        assert!(from_sql_instant("test", 0, 1_000_000_000).is_err());
        assert!(from_sql_instant("test", 0, -1).is_err());
    }
}
