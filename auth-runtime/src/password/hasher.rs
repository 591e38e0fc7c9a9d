//! Argon2id hashing; Argon2 and bcrypt verification; rehash decisions.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::pool::HashPool;
use crate::error::PasswordError;

/// The largest Argon2 memory cost a stored hash may ask for, in KiB (256 MiB).
///
/// A stored hash chooses how much memory its verification allocates; a
/// corrupted or hostile one must not make a login allocate gigabytes.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 256 * 1024;
/// The largest Argon2 iteration count a stored hash may ask for.
pub const MAX_VERIFY_ITERATIONS: u32 = 32;
/// The largest Argon2 parallelism (lanes) a stored hash may ask for.
pub const MAX_VERIFY_PARALLELISM: u32 = 64;
/// The largest bcrypt cost a stored hash may ask for (2^16 rounds).
pub const MAX_VERIFY_BCRYPT_COST: u32 = 16;

/// OWASP's equivalent Argon2id configurations (memory KiB, iterations), all
/// with parallelism 1: parameters must be at least as strong as one of them.
const OWASP_MINIMUMS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Salt length of new hashes, in bytes.
const SALT_LEN: usize = 16;
/// Tag length of new hashes, in bytes.
const TAG_LEN: usize = 32;
/// bcrypt reads at most 72 bytes of a password.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// Argon2id parameters for new hashes.
///
/// The defaults are OWASP's: 19 MiB, 2 iterations, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Argon2Params {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Number of passes over the memory (`t`).
    pub iterations: u32,
    /// Degree of parallelism, the number of lanes (`p`).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Checks the parameters against OWASP's minimums and this library's
    /// verification caps, and converts them for the `argon2` crate.
    fn validate(self) -> Result<Params, PasswordError> {
        let strong_enough = OWASP_MINIMUMS
            .iter()
            .any(|&(m, t)| self.memory_kib >= m && self.iterations >= t);
        if !strong_enough {
            return Err(PasswordError::ParametersOutOfRange {
                name: "m",
                value: u64::from(self.memory_kib),
                allowed: "memory and iterations at least one OWASP configuration \
                          (m=47104,t=1; m=19456,t=2; m=12288,t=3; m=9216,t=4; m=7168,t=5)",
            });
        }
        check_verify_caps(self.memory_kib, self.iterations, self.parallelism)?;
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(TAG_LEN),
        )
        .map_err(|_| PasswordError::ParametersOutOfRange {
            name: "p",
            value: u64::from(self.parallelism),
            allowed: "memory at least 8 KiB per lane",
        })
    }
}

fn check_verify_caps(m: u32, t: u32, p: u32) -> Result<(), PasswordError> {
    if m > MAX_VERIFY_MEMORY_KIB {
        return Err(PasswordError::ParametersOutOfRange {
            name: "m",
            value: u64::from(m),
            allowed: "at most 262144 KiB (256 MiB)",
        });
    }
    if t == 0 || t > MAX_VERIFY_ITERATIONS {
        return Err(PasswordError::ParametersOutOfRange {
            name: "t",
            value: u64::from(t),
            allowed: "1 to 32",
        });
    }
    if p == 0 || p > MAX_VERIFY_PARALLELISM {
        return Err(PasswordError::ParametersOutOfRange {
            name: "p",
            value: u64::from(p),
            allowed: "1 to 64",
        });
    }
    Ok(())
}

/// The outcome of [`PasswordHasher::verify`].
///
/// Exhaustive, and only [`Verification::Match`] lets a login through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verification {
    /// The password matches the stored hash.
    Match {
        /// The stored hash is weaker than what the hasher produces now
        /// (bcrypt, an Argon2 variant other than Argon2id, an older Argon2
        /// version, or smaller `m`, `t` or `p`): hash the password again
        /// with [`PasswordHasher::hash`] and store the new hash.
        needs_rehash: bool,
    },
    /// The password does not match.
    NoMatch,
}

impl Verification {
    /// Whether the password matched.
    #[must_use]
    pub const fn is_match(self) -> bool {
        matches!(self, Self::Match { .. })
    }

    /// Whether the password matched and the stored hash should be replaced.
    #[must_use]
    pub const fn needs_rehash(self) -> bool {
        matches!(self, Self::Match { needs_rehash: true })
    }
}

/// A stored hash, parsed and checked against the verification caps.
#[derive(Debug)]
enum StoredHash {
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        params: Params,
        salt: Vec<u8>,
        tag: Output,
    },
    Bcrypt {
        hash: String,
    },
}

impl StoredHash {
    fn parse(stored: &str) -> Result<Self, PasswordError> {
        let Some(rest) = stored.strip_prefix('$') else {
            return Err(PasswordError::InvalidStoredHash(
                "it does not start with `$`",
            ));
        };
        let scheme = rest.split('$').next().unwrap_or_default();
        match scheme {
            "2a" | "2b" | "2y" => Self::parse_bcrypt(stored),
            "argon2id" | "argon2i" | "argon2d" => Self::parse_argon2(stored),
            "" => Err(PasswordError::InvalidStoredHash("it names no scheme")),
            other if other.len() <= 32 && other.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(PasswordError::UnsupportedScheme(other.to_owned()))
            }
            _ => Err(PasswordError::InvalidStoredHash("it names no known scheme")),
        }
    }

    fn parse_bcrypt(stored: &str) -> Result<Self, PasswordError> {
        // `$2b$12$` + 22 salt characters + 31 hash characters.
        let bytes = stored.as_bytes();
        if bytes.len() != 60 || !stored.is_ascii() || bytes.get(6) != Some(&b'$') {
            return Err(PasswordError::InvalidStoredHash(
                "a bcrypt hash has 60 ASCII characters",
            ));
        }
        let cost: u32 = stored.get(4..6).and_then(|c| c.parse().ok()).ok_or(
            PasswordError::InvalidStoredHash("the bcrypt cost is not a number"),
        )?;
        if !(4..=MAX_VERIFY_BCRYPT_COST).contains(&cost) {
            return Err(PasswordError::ParametersOutOfRange {
                name: "cost",
                value: u64::from(cost),
                allowed: "bcrypt cost 4 to 16",
            });
        }
        let valid_chars = stored.get(7..).is_some_and(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
        });
        if !valid_chars {
            return Err(PasswordError::InvalidStoredHash(
                "the bcrypt salt or hash is not bcrypt base64",
            ));
        }
        Ok(Self::Bcrypt {
            hash: stored.to_owned(),
        })
    }

    fn parse_argon2(stored: &str) -> Result<Self, PasswordError> {
        let phc = PasswordHash::new(stored)
            .map_err(|_| PasswordError::InvalidStoredHash("not a well-formed PHC string"))?;
        let algorithm = Algorithm::try_from(phc.algorithm.as_str())
            .map_err(|_| PasswordError::InvalidStoredHash("unknown Argon2 variant"))?;
        // The reference implementation writes no `v=` for version 0x10.
        let version = Version::try_from(phc.version.unwrap_or(0x10))
            .map_err(|_| PasswordError::InvalidStoredHash("unknown Argon2 version"))?;
        let (Some(salt), Some(tag)) = (phc.salt, phc.hash) else {
            return Err(PasswordError::InvalidStoredHash(
                "the PHC string lacks a salt or a hash",
            ));
        };
        let mut m = None;
        let mut t = None;
        let mut p = None;
        for (name, value) in phc.params.iter() {
            let slot = match name.as_str() {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                _ => continue, // keyid / data: read by `Params::try_from` below
            };
            *slot = Some(value.decimal().map_err(|_| {
                PasswordError::InvalidStoredHash("an Argon2 parameter is not a number")
            })?);
        }
        let (Some(m), Some(t), Some(p)) = (m, t, p) else {
            return Err(PasswordError::InvalidStoredHash(
                "the PHC string lacks `m`, `t` or `p`",
            ));
        };
        // Caps first: the crate would allocate whatever `m` says.
        check_verify_caps(m, t, p)?;
        let mut params = Params::try_from(&phc.params)
            .map_err(|_| PasswordError::InvalidStoredHash("invalid Argon2 parameters"))?;
        params = rebuild_with_output_len(&params, tag.len())?;
        Ok(Self::Argon2 {
            algorithm,
            version,
            params,
            salt: salt.to_vec(),
            tag,
        })
    }
}

fn rebuild_with_output_len(params: &Params, len: usize) -> Result<Params, PasswordError> {
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(params.m_cost())
        .t_cost(params.t_cost())
        .p_cost(params.p_cost())
        .output_len(len);
    if let Ok(keyid) = argon2::KeyId::new(params.keyid()) {
        builder.keyid(keyid);
    }
    if let Ok(data) = argon2::AssociatedData::new(params.data()) {
        builder.data(data);
    }
    builder
        .build()
        .map_err(|_| PasswordError::InvalidStoredHash("invalid Argon2 parameters"))
}

/// Hashes passwords with Argon2id and verifies Argon2 and bcrypt hashes.
///
/// Cheap to clone: clones share one set of hashing threads, one dummy hash
/// and one verification counter. Hashing runs off the async executor, on
/// threads of the hasher's own (started on first use), at most as many at
/// once as the machine has cores (or as configured with
/// [`PasswordHasher::with_concurrency`]), so a burst of logins queues
/// instead of starving the executor or exhausting memory. On Linux these
/// threads run at a lower priority (nice
/// [`HASH_THREAD_NICE`](super::HASH_THREAD_NICE)), so that other requests
/// keep their latency during a login storm (measured in `BENCHMARKS.md`).
/// The futures need no particular runtime.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Argon2Params,
    argon2: Params,
    permits: Arc<Semaphore>,
    pool: HashPool,
    max_concurrency: usize,
    dummy: OnceLock<String>,
    verifications: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

impl Default for PasswordHasher {
    /// Argon2id with OWASP's parameters, one hash at a time per core.
    fn default() -> Self {
        // `Params::DEFAULT` is m=19456, t=2, p=1: `Argon2Params::default()`.
        Self::build(
            Argon2Params::default(),
            Params::DEFAULT,
            default_concurrency(),
        )
    }
}

fn default_concurrency() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

impl PasswordHasher {
    /// A hasher producing Argon2id hashes with `params`, running at most one
    /// hash per core at a time.
    ///
    /// # Errors
    ///
    /// [`PasswordError::ParametersOutOfRange`] when the parameters are weaker
    /// than every OWASP configuration or above the verification caps
    /// ([`MAX_VERIFY_MEMORY_KIB`], ...).
    pub fn new(params: Argon2Params) -> Result<Self, PasswordError> {
        Self::with_concurrency(params, default_concurrency())
    }

    /// As [`PasswordHasher::new`], running at most `max_concurrency` hashes
    /// at a time.
    ///
    /// # Errors
    ///
    /// As [`PasswordHasher::new`].
    pub fn with_concurrency(
        params: Argon2Params,
        max_concurrency: NonZeroUsize,
    ) -> Result<Self, PasswordError> {
        let argon2 = params.validate()?;
        Ok(Self::build(params, argon2, max_concurrency))
    }

    fn build(params: Argon2Params, argon2: Params, max_concurrency: NonZeroUsize) -> Self {
        let max_concurrency = max_concurrency.get().min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                params,
                argon2,
                permits: Arc::new(Semaphore::new(max_concurrency)),
                pool: HashPool::new(max_concurrency),
                max_concurrency,
                dummy: OnceLock::new(),
                verifications: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
                peak_in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// The parameters of new hashes.
    #[must_use]
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// How many hashes may run at once.
    #[must_use]
    pub fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency
    }

    /// How many more hashes could start right now.
    #[must_use]
    pub fn available_permits(&self) -> usize {
        self.inner.permits.available_permits()
    }

    /// How many password verifications this hasher (and its clones) has
    /// computed, [`verify_dummy`](Self::verify_dummy) included.
    ///
    /// Lets tests prove that a code path paid for a verification (an unknown
    /// user checked against the dummy hash) without measuring time.
    #[must_use]
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Hashes `password` (UTF-8 text or raw bytes) with Argon2id, a fresh 16-byte salt and the current
    /// parameters, into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
    ///
    /// # Errors
    ///
    /// [`PasswordError::HashFailed`] when no salt can be drawn or the password
    /// is too long for Argon2 (4 GiB), [`PasswordError::WorkerUnavailable`]
    /// when no hashing thread can be started.
    pub async fn hash(&self, password: impl AsRef<[u8]>) -> Result<String, PasswordError> {
        let password = Zeroizing::new(password.as_ref().to_vec());
        self.run(move |inner| inner.hash(&password)).await
    }

    /// Verifies `password` against `stored`: an Argon2id, Argon2i or Argon2d
    /// PHC string (any version and parameters within the caps) or a bcrypt
    /// `$2a$`, `$2b$` or `$2y$` hash.
    ///
    /// A password of more than 72 bytes is checked against a bcrypt hash the
    /// way the Python lexigram-auth stored it: bcrypt over the standard,
    /// padded base64 of its SHA-256 digest.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidStoredHash`] or
    /// [`PasswordError::UnsupportedScheme`] when `stored` is not a hash this
    /// library verifies (checked before any work),
    /// [`PasswordError::ParametersOutOfRange`] when it asks for more than the
    /// caps, [`PasswordError::WorkerUnavailable`] when no hashing thread can
    /// be started.
    pub async fn verify(
        &self,
        password: impl AsRef<[u8]>,
        stored: &str,
    ) -> Result<Verification, PasswordError> {
        let parsed = StoredHash::parse(stored)?;
        let password = Zeroizing::new(password.as_ref().to_vec());
        self.run(move |inner| inner.verify(&password, &parsed))
            .await
    }

    /// Verifies `password` against a dummy hash made with the current
    /// parameters (computed once, on first use), and throws the answer away.
    ///
    /// Call it when the user does not exist, so that the answer takes as long
    /// as for a user who does.
    ///
    /// # Errors
    ///
    /// As [`PasswordHasher::hash`].
    pub async fn verify_dummy(&self, password: impl AsRef<[u8]>) -> Result<(), PasswordError> {
        let password = Zeroizing::new(password.as_ref().to_vec());
        self.run(move |inner| {
            let dummy = inner.dummy()?;
            let parsed = StoredHash::parse(&dummy)?;
            inner.verify(&password, &parsed).map(|_| ())
        })
        .await
    }

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        F: FnOnce(&Inner) -> Result<T, PasswordError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::WorkerUnavailable)?;
        let inner = Arc::clone(&self.inner);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.inner.pool.submit(Box::new(move || {
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak_in_flight.fetch_max(now, Ordering::SeqCst);
            let result = work(&inner);
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            // The caller may have given up waiting; the work is done anyway.
            let _ = sender.send(result);
        }))?;
        receiver
            .await
            .map_err(|_| PasswordError::WorkerUnavailable)?
    }

    /// The most hashes that have run at the same time so far.
    #[cfg(test)]
    fn peak_in_flight(&self) -> usize {
        self.inner.peak_in_flight.load(Ordering::SeqCst)
    }
}

impl Inner {
    fn hash(&self, password: &[u8]) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)
            .map_err(|_| PasswordError::HashFailed("no random salt could be drawn"))?;
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.argon2.clone())
            .hash_password_with_salt(password, &salt)
            .map_err(|_| PasswordError::HashFailed("argon2 refused the inputs"))?;
        Ok(phc.to_string())
    }

    fn dummy(&self) -> Result<String, PasswordError> {
        if let Some(dummy) = self.dummy.get() {
            return Ok(dummy.clone());
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut_slice())
            .map_err(|_| PasswordError::HashFailed("no random dummy password could be drawn"))?;
        let hash = self.hash(secret.as_slice())?;
        // Two first calls racing both compute one; the first stored wins.
        Ok(self.dummy.get_or_init(|| hash).clone())
    }

    fn verify(&self, password: &[u8], stored: &StoredHash) -> Result<Verification, PasswordError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let (matched, needs_rehash) = match stored {
            StoredHash::Argon2 {
                algorithm,
                version,
                params,
                salt,
                tag,
            } => {
                let mut computed = Zeroizing::new(vec![0u8; tag.len()]);
                Argon2::new(*algorithm, *version, params.clone())
                    .hash_password_into(password, salt, &mut computed)
                    .map_err(|_| {
                        PasswordError::InvalidStoredHash("argon2 refused the stored parameters")
                    })?;
                let computed = Output::new(&computed).map_err(|_| {
                    PasswordError::InvalidStoredHash("the Argon2 tag length is invalid")
                })?;
                // `Output`'s equality is constant-time.
                let matched = computed == *tag;
                let weaker = *algorithm != Algorithm::Argon2id
                    || *version != Version::V0x13
                    || params.m_cost() < self.params.memory_kib
                    || params.t_cost() < self.params.iterations
                    || params.p_cost() < self.params.parallelism;
                (matched, weaker)
            }
            StoredHash::Bcrypt { hash } => {
                let matched = if password.len() > BCRYPT_MAX_PASSWORD_BYTES {
                    // Python lexigram-auth's format for long passwords.
                    let digest = Sha256::digest(password);
                    let prehash =
                        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(digest));
                    bcrypt::verify(prehash.as_bytes(), hash)
                } else {
                    bcrypt::verify(password, hash)
                }
                .map_err(|_| PasswordError::InvalidStoredHash("bcrypt refused the stored hash"))?;
                (matched, true)
            }
        };
        Ok(if matched {
            Verification::Match { needs_rehash }
        } else {
            Verification::NoMatch
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters at the OWASP floor with the least memory, for fast tests.
    const FAST: Argon2Params = Argon2Params {
        memory_kib: 7_168,
        iterations: 5,
        parallelism: 1,
    };

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(FAST).unwrap()
    }

    #[test]
    fn defaults_are_owasp() {
        let params = Argon2Params::default();
        assert_eq!(
            (params.memory_kib, params.iterations, params.parallelism),
            (19_456, 2, 1)
        );
        assert_eq!(PasswordHasher::default().params(), params);
        assert!(PasswordHasher::new(params).is_ok());
        assert!(PasswordHasher::default().max_concurrency() >= 1);
    }

    #[test]
    fn refuses_parameters_under_owasp_minimums_or_over_caps() {
        for (m, t, p) in [(19_455, 2, 1), (47_103, 1, 1), (7_167, 10, 1), (8, 1, 1)] {
            let err = PasswordHasher::new(Argon2Params {
                memory_kib: m,
                iterations: t,
                parallelism: p,
            })
            .unwrap_err();
            assert!(
                matches!(err, PasswordError::ParametersOutOfRange { name: "m", .. }),
                "{err}"
            );
            assert_eq!(err.code(), "password_parameters");
        }
        let too_much = Argon2Params {
            memory_kib: MAX_VERIFY_MEMORY_KIB + 1,
            ..Argon2Params::default()
        };
        assert!(PasswordHasher::new(too_much).is_err());
        let no_lanes = Argon2Params {
            parallelism: 0,
            ..Argon2Params::default()
        };
        assert!(matches!(
            PasswordHasher::new(no_lanes),
            Err(PasswordError::ParametersOutOfRange { name: "p", .. })
        ));
        // Each OWASP row itself is accepted.
        for (m, t) in OWASP_MINIMUMS {
            PasswordHasher::new(Argon2Params {
                memory_kib: m,
                iterations: t,
                parallelism: 1,
            })
            .unwrap();
        }
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips() {
        let h = hasher();
        let stored = h.hash("correct horse").await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "{stored}"
        );
        assert_eq!(
            h.verify("correct horse", &stored).await.unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify("correct horsE", &stored).await.unwrap(),
            Verification::NoMatch
        );
        assert_ne!(
            stored,
            h.hash("correct horse").await.unwrap(),
            "fresh salt each time"
        );
        assert_eq!(h.verifications(), 2);
    }

    #[tokio::test]
    async fn rehash_decisions() {
        let current = hasher(); // m=7168,t=5,p=1
        let stronger = PasswordHasher::new(Argon2Params {
            memory_kib: 8_192,
            iterations: 5,
            parallelism: 1,
        })
        .unwrap();
        let stored = current.hash("pw").await.unwrap();
        // Same parameters: no rehash. Weaker than a stronger hasher's: rehash.
        assert!(!current.verify("pw", &stored).await.unwrap().needs_rehash());
        assert!(stronger.verify("pw", &stored).await.unwrap().needs_rehash());
        // Stronger hashes than current: no rehash.
        let strong = stronger.hash("pw").await.unwrap();
        assert!(!current.verify("pw", &strong).await.unwrap().needs_rehash());
        // Each of m, t and p below current, another variant, an old version.
        for (name, stored) in [
            ("m", "$argon2id$v=19$m=7000,t=5,p=1$c29tZXNhbHQ$"),
            ("t", "$argon2id$v=19$m=7168,t=4,p=1$c29tZXNhbHQ$"),
            ("argon2i", "$argon2i$v=19$m=7168,t=5,p=1$c29tZXNhbHQ$"),
            ("argon2d", "$argon2d$v=19$m=7168,t=5,p=1$c29tZXNhbHQ$"),
            ("v=16", "$argon2id$v=16$m=7168,t=5,p=1$c29tZXNhbHQ$"),
        ] {
            let stored = reference_hash(stored, b"pw");
            let v = current.verify("pw", &stored).await.unwrap();
            assert_eq!(v, Verification::Match { needs_rehash: true }, "{name}");
        }
        let two_lanes = PasswordHasher::new(Argon2Params {
            parallelism: 2,
            ..FAST
        })
        .unwrap();
        assert!(
            two_lanes
                .verify("pw", &stored)
                .await
                .unwrap()
                .needs_rehash()
        );
        // Any bcrypt hash.
        let bcrypt = bcrypt::hash_with_salt("pw", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(
            current.verify("pw", &bcrypt).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
        // A mismatch never asks for a rehash.
        assert_eq!(
            current.verify("nope", &bcrypt).await.unwrap(),
            Verification::NoMatch
        );
        assert!(!Verification::NoMatch.needs_rehash());
    }

    /// Completes a PHC prefix (`$alg$v=..$m=..,t=..,p=..$salt$`) with the tag
    /// of `password`, computed with the `argon2` crate directly.
    fn reference_hash(prefix: &str, password: &[u8]) -> String {
        let parts: Vec<&str> = prefix.split('$').collect();
        let algorithm = Algorithm::try_from(parts[1]).unwrap();
        let version =
            Version::try_from(parts[2].trim_start_matches("v=").parse::<u32>().unwrap()).unwrap();
        let params: Params = parts[3].parse().unwrap();
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[4])
            .unwrap();
        let mut tag = [0u8; 32];
        Argon2::new(algorithm, version, params)
            .hash_password_into(password, &salt, &mut tag)
            .unwrap();
        format!(
            "{prefix}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag)
        )
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_typed_errors() {
        let h = hasher();
        let cases: &[(&str, &str)] = &[
            ("", "password_hash_invalid"),
            ("plaintext", "password_hash_invalid"),
            ("$", "password_hash_invalid"),
            ("$argon2id$", "password_hash_invalid"),
            (
                "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHQ",
                "password_hash_invalid",
            ),
            (
                "$argon2id$v=19$m=banana,t=5,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_hash_invalid",
            ),
            (
                "$argon2id$v=19$t=5,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_hash_invalid",
            ),
            (
                "$argon2id$v=18$m=7168,t=5,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_hash_invalid",
            ),
            (
                "$argon2id$v=19$m=7168,t=5,p=1$!!!$AAAAAAAAAAAAAAAAAAAAAA",
                "password_hash_invalid",
            ),
            (
                "$argon2x$v=19$m=7168,t=5,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_hash_unsupported",
            ),
            ("$2b$12$short", "password_hash_invalid"),
            (
                "$2b$xx$......................................................",
                "password_hash_invalid",
            ),
            (
                "$2b$05$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                "password_hash_invalid",
            ),
            (
                "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
                "password_hash_unsupported",
            ),
            ("$pbkdf2-sha256$29000$abc$def", "password_hash_unsupported"),
            (
                "$5$rounds=5000$saltsalt$Gbbw8bXq5ckEEnEJfRZFm6S6ki13QdkqoZ0gYJx0rU/",
                "password_hash_unsupported",
            ),
            ("$é$", "password_hash_invalid"),
            // Absurd costs are refused before anything is allocated.
            (
                "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_parameters",
            ),
            (
                "$argon2id$v=19$m=65536,t=1000,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_parameters",
            ),
            (
                "$argon2id$v=19$m=65536,t=1,p=255$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "password_parameters",
            ),
            (
                "$2b$31$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
                "password_parameters",
            ),
            (
                "$2b$03$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
                "password_parameters",
            ),
        ];
        for (stored, code) in cases {
            let err = h.verify("password", stored).await.unwrap_err();
            assert_eq!(err.code(), *code, "{stored}: {err}");
        }
        assert_eq!(
            h.verifications(),
            0,
            "no malformed hash reached the hash function"
        );
    }

    #[test]
    fn hashing_needs_no_tokio_runtime() {
        let h = hasher();
        let stored = futures_block_on(h.hash("pw")).unwrap();
        assert!(
            futures_block_on(h.verify("pw", &stored))
                .unwrap()
                .is_match()
        );
    }

    /// Polls a future to completion on this thread, with no tokio runtime.
    fn futures_block_on<F: std::future::Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn dummy_verification_costs_a_real_verification() {
        let h = hasher();
        h.verify_dummy("whatever").await.unwrap();
        h.verify_dummy("other").await.unwrap();
        assert_eq!(h.verifications(), 2);
        let dummy = h.inner.dummy.get().unwrap().clone();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "same cost as real hashes"
        );
        // Computed once.
        h.verify_dummy("third").await.unwrap();
        assert_eq!(h.inner.dummy.get().unwrap(), &dummy);
        // Clones share the counter.
        let clone = h.clone();
        clone.verify_dummy("x").await.unwrap();
        assert_eq!(h.verifications(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_is_bounded_by_the_semaphore() {
        let h = PasswordHasher::with_concurrency(FAST, NonZeroUsize::new(2).unwrap()).unwrap();
        assert_eq!(h.max_concurrency(), 2);
        let stored = h.hash("pw").await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let h = h.clone();
                let stored = stored.clone();
                tokio::spawn(async move { h.verify("pw", &stored).await.unwrap().is_match() })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        let peak = h.peak_in_flight();
        assert!((1..=2).contains(&peak), "peak {peak} exceeds 2 permits");
        assert_eq!(h.available_permits(), 2, "every permit returned");
        assert_eq!(h.verifications(), 8);

        // With the only permits held elsewhere, a verification waits.
        let one = PasswordHasher::with_concurrency(FAST, NonZeroUsize::MIN).unwrap();
        let held = Arc::clone(&one.inner.permits)
            .acquire_owned()
            .await
            .unwrap();
        let waiting = tokio::spawn({
            let one = one.clone();
            let stored = stored.clone();
            async move { one.verify("pw", &stored).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        assert_eq!(one.verifications(), 0);
        drop(held);
        assert!(waiting.await.unwrap().unwrap().is_match());
    }

    #[tokio::test]
    async fn long_passwords_use_the_python_bcrypt_prehash() {
        let h = hasher();
        let long = "a".repeat(73);
        // Vectors file §5: the pre-hash of "a" x 73.
        let digest = Sha256::digest(long.as_bytes());
        let prehash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(prehash, "DgWOP30EOfkFTVnHNVh66ZZV9kc6I0zklNgrVYb36sY=");
        let stored = bcrypt::hash_with_salt(&prehash, 4, [9; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert!(h.verify(&long, &stored).await.unwrap().is_match());
        // Not the plain bcrypt of the first 72 bytes.
        let truncated = bcrypt::hash_with_salt(&long, 4, [9; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(
            h.verify(&long, &truncated).await.unwrap(),
            Verification::NoMatch
        );
        // Exactly 72 bytes: fed to bcrypt unchanged.
        let edge = "b".repeat(72);
        let stored = bcrypt::hash_with_salt(&edge, 4, [9; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        assert!(h.verify(&edge, &stored).await.unwrap().is_match());
    }
}
