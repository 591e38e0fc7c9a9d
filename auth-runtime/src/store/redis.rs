//! Redis connections (feature `redis`).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{StoreError, bounded};

/// The backend name in [`StoreError`]s.
pub(crate) const BACKEND: &str = "redis";

/// Opens a [`ConnectionManager`] on `url` (`redis://host:port/db`,
/// `rediss://...` needs a TLS feature of the `redis` crate).
///
/// The manager reconnects by itself after Redis goes away. Each connection
/// attempt and each answer is bounded by `timeout`, and a lost connection is
/// retried only a few times before the request fails, so that callers see
/// [`StoreError::Unavailable`] quickly instead of waiting on a dead server;
/// the next request starts reconnecting again.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, StoreError> {
    let client = redis::Client::open(url).map_err(|error| StoreError::Config {
        backend: BACKEND,
        source: error.into(),
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    bounded(BACKEND, timeout, async {
        ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_error)
    })
    .await
}

/// Sorts a Redis error into unavailable, corrupt data, configuration or a
/// plain backend failure.
pub(crate) fn redis_error(error: redis::RedisError) -> StoreError {
    use redis::{ErrorKind, ServerErrorKind};
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || error.is_cluster_error()
    {
        return StoreError::unavailable(BACKEND, error);
    }
    if error.code() == Some("WRONGTYPE") {
        return StoreError::Corrupt {
            backend: BACKEND,
            detail: "a key holding a value of another type",
        };
    }
    match error.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => StoreError::Corrupt {
            backend: BACKEND,
            detail: "a value of an unexpected type",
        },
        ErrorKind::InvalidClientConfig => StoreError::Config {
            backend: BACKEND,
            source: error.into(),
        },
        ErrorKind::Server(
            ServerErrorKind::BusyLoading | ServerErrorKind::MasterDown | ServerErrorKind::ReadOnly,
        )
        | ErrorKind::ClusterConnectionNotFound => StoreError::unavailable(BACKEND, error),
        _ => StoreError::backend(BACKEND, error),
    }
}
