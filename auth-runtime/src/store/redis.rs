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

/// What every Redis store type has alike: `Debug` (timeout and prefix
/// only), `connect` / `connect_with_timeout` through a reconnecting
/// [`ConnectionManager`], and the `with_timeout` / `with_key_prefix`
/// settings. The type needs the fields `connection`, `timeout` and `prefix`
/// and its own `from_connection` (its scripts).
macro_rules! redis_store_common {
    ($name:ident, prefix_doc = $prefix_doc:literal $(,)?) => {
        impl<C> std::fmt::Debug for $name<C> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("timeout", &self.timeout)
                    .field("prefix", &self.prefix)
                    .finish_non_exhaustive()
            }
        }

        impl $name<redis::aio::ConnectionManager> {
            /// Connects to `url` (`redis://[:password@]host:port/db`) through a
            /// [`ConnectionManager`](redis::aio::ConnectionManager), which
            /// reconnects by itself.
            ///
            /// # Errors
            ///
            /// [`StoreError::Config`](crate::store::StoreError::Config) for a
            /// malformed URL,
            /// [`StoreError::Unavailable`](crate::store::StoreError::Unavailable)
            /// when Redis cannot be reached within the default timeout.
            pub async fn connect(url: &str) -> Result<Self, $crate::store::StoreError> {
                Self::connect_with_timeout(url, $crate::store::DEFAULT_TIMEOUT).await
            }

            /// [`connect`](Self::connect) with `timeout` for connecting, for
            /// each reconnection attempt and for each operation.
            ///
            /// # Errors
            ///
            /// As for [`connect`](Self::connect).
            pub async fn connect_with_timeout(
                url: &str,
                timeout: std::time::Duration,
            ) -> Result<Self, $crate::store::StoreError> {
                let connection = $crate::store::redis::connect(url, timeout).await?;
                Ok(Self::from_connection(connection).with_timeout(timeout))
            }
        }

        impl<C> $name<C> {
            /// Bounds each operation by `timeout` (default
            /// [`DEFAULT_TIMEOUT`](crate::store::DEFAULT_TIMEOUT)).
            #[must_use]
            pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.timeout = timeout;
                self
            }

            #[doc = concat!("Starts every key with `prefix` instead of `lexigram` (", $prefix_doc, "), to keep several applications (or test runs) apart on one Redis.")]
            #[must_use]
            pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
                self.prefix = prefix.into();
                self
            }
        }
    };
}
pub(crate) use redis_store_common;
