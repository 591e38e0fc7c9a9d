//! The login flow: [`AuthenticationService`] (AUTHN-1, AUTHN-2, AUTHN-4,
//! AUTHN-5, AUTHN-7).

use std::net::IpAddr;
use std::sync::Arc;

use super::{
    AccountConfig, AuthEvent, EventSink, FailureReason, HashSwap, LockState, Lockout,
    LockoutConfig, LoggingMailer, MAX_EMAIL_LEN, Mailer, MemoryLockoutStore,
    MemoryOneTimeTokenStore, OneTimeTokenStore, TracingSink, User, UserStore, normalize_email,
};
use crate::Principal;
use crate::authz::grammar::check_tenant;
use crate::clock::{Clock, SystemClock};
use crate::error::{AuthenticationFailed, PasswordError, TokenError};
use crate::password::{PasswordHasher, PasswordPolicy, Verification};
use crate::session::SessionManager;
use crate::store::{StoreError, StoreFuture};
use crate::token::{AuthToken, JwtTokenManager, UserLookup};

/// How many earlier password hashes are kept by default when a hash is
/// replaced (the password history rule reads them).
pub const DEFAULT_PASSWORD_HISTORY: usize = 5;

/// Logs users in with an e-mail address and a password, and manages the
/// tokens it hands out: refresh, logout, logout everywhere.
///
/// A login ([`authenticate`](Self::authenticate)) goes:
///
/// 1. the identifier is [normalised](normalize_email) and the account's
///    [`Lockout`] is checked **before any hashing**: a locked account is
///    refused at no hashing cost;
/// 2. the user is looked up; an unknown user is checked against the
///    hasher's dummy hash and an inactive user against their real hash, so
///    every refusal costs one verification, like a wrong password;
/// 3. every refusal counts one lockout failure, unknown identifiers included
///    (the lock does not reveal which accounts exist), and emits
///    [`AuthEvent::LoginFailed`] with the true [`FailureReason`] (plus
///    [`AuthEvent::LockedOut`] when it locks the account);
/// 4. a success clears the failures, records the login, upgrades a hash
///    that is weaker than the hasher's current parameters (by
///    compare-and-swap, so a concurrent password change or a concurrent
///    upgrade is never overwritten), issues a token pair carrying the
///    user's current roles and emits [`AuthEvent::LoginSucceeded`].
///
/// A login *within a tenant* ([`authenticate_in`](Self::authenticate_in))
/// goes the same way, and after the password check reads the roles the user
/// holds in the tenant ([`TenantRoleStore`](super::TenantRoleStore)): the
/// principal acts in that tenant with exactly those roles, and a user who
/// is not a member is refused ([`AuthenticationFailed::not_a_member`]).
///
/// The caller sees one opaque [`AuthenticationFailed`] for every refusal;
/// only a backend failure (store, hasher, token signer) is told apart, by
/// [`AuthenticationFailed::is_unavailable`], and refuses the login (fail
/// closed).
///
/// Attempts made while the account is locked are refused without being
/// counted (no password was checked) and answer faster than other
/// refusals, since no hash is computed: timing can tell "locked" apart, but
/// never whether the account exists, because unknown identifiers lock the
/// same way.
///
/// ```
/// use std::sync::Arc;
/// use lexigram_auth::authn::{AuthenticationService, Created, MemoryUserStore, NewUser, UserStore};
/// use lexigram_auth::password::PasswordHasher;
/// use lexigram_auth::token::JwtTokenManager;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hasher = PasswordHasher::default();
/// let users = Arc::new(MemoryUserStore::new());
/// let hash = hasher.hash("Correct-Horse-Battery-9").await?;
/// let new = NewUser::new("alice@example.com", "Alice")
///     .with_roles(["editor"])
///     .with_password_hash(hash);
/// let Created::Created(alice) = users.create_user(&new, 1_000).await? else {
///     unreachable!()
/// };
///
/// let tokens = JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")])?;
/// let auth = AuthenticationService::new(users, hasher, tokens);
///
/// // Any spelling of the e-mail address is the same account.
/// let pair = auth.authenticate(" Alice@Example.com", "Correct-Horse-Battery-9").await?;
/// let verified = auth.tokens().verify_access(&pair.access_token)?;
/// assert_eq!(verified.user_id, alice.id);
/// assert_eq!(verified.roles, ["editor"]);
///
/// // A wrong password and an unknown user cannot be told apart.
/// let wrong = auth.authenticate("alice@example.com", "guess").await.unwrap_err();
/// let unknown = auth.authenticate("mallory@example.com", "guess").await.unwrap_err();
/// assert_eq!(wrong, unknown);
/// assert_eq!(wrong.code(), "invalid_credentials");
///
/// // The refresh token is single use and yields a new pair.
/// let next = auth.refresh_token(&pair.refresh_token).await?;
/// assert_ne!(next.refresh_token, pair.refresh_token);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuthenticationService {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) hasher: PasswordHasher,
    pub(super) tokens: Arc<JwtTokenManager>,
    pub(super) lockout: Lockout,
    pub(super) events: Arc<dyn EventSink>,
    pub(super) password_history: usize,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) policy: Option<PasswordPolicy>,
    pub(super) mailer: Arc<dyn Mailer>,
    pub(super) one_time: Arc<dyn OneTimeTokenStore>,
    pub(super) accounts: AccountConfig,
    pub(super) sessions: Option<SessionManager>,
}

impl AuthenticationService {
    /// A service over `users`, hashing with `hasher` and issuing tokens with
    /// `tokens` (a [`JwtTokenManager`] or an `Arc` of one, to share it with
    /// the guards).
    ///
    /// Defaults: an in-memory [`Lockout`] with [`LockoutConfig::default`]
    /// (5 failures in 300 s lock for 300 s), events to [`TracingSink`], a
    /// password history of [`DEFAULT_PASSWORD_HISTORY`] hashes, the system
    /// clock; for the account flows, the default
    /// [`PasswordConfig`](crate::password::PasswordConfig), the
    /// [`LoggingMailer`] (which sends nothing), an in-memory
    /// [`OneTimeTokenStore`] and [`AccountConfig::default`].
    #[must_use]
    pub fn new(
        users: Arc<dyn UserStore>,
        hasher: PasswordHasher,
        tokens: impl Into<Arc<JwtTokenManager>>,
    ) -> Self {
        Self {
            users,
            hasher,
            tokens: tokens.into(),
            lockout: Lockout::new(
                Arc::new(MemoryLockoutStore::new()),
                LockoutConfig::default(),
            ),
            events: Arc::new(TracingSink),
            password_history: DEFAULT_PASSWORD_HISTORY,
            clock: Arc::new(SystemClock),
            policy: None,
            mailer: Arc::new(LoggingMailer),
            one_time: Arc::new(MemoryOneTimeTokenStore::new()),
            sessions: None,
            accounts: AccountConfig::default(),
        }
    }

    /// Uses `lockout` (a Redis-backed one, say, so that instances lock
    /// together, or another [`LockoutConfig`]).
    #[must_use]
    pub fn lockout(mut self, lockout: Lockout) -> Self {
        self.lockout = lockout;
        self
    }

    /// Sends events to `sink` instead of `tracing`.
    #[must_use]
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// Keeps `n` earlier hashes when a password hash is replaced (login
    /// upgrade, change, reset); a new password may not be the current one
    /// or any of these.
    #[must_use]
    pub fn password_history(mut self, n: usize) -> Self {
        self.password_history = n;
        self
    }

    /// Uses `clock` for the times written to the user store (last login,
    /// hash upgrades) and the `auth_time` of issued tokens. The lockout and
    /// the token manager keep their own clocks
    /// ([`Lockout::with_clock`], the manager's builder).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Ends the users' sessions in `sessions` too whenever their tokens are
    /// all revoked: on [`logout_all`](Self::logout_all), a password change
    /// and a password reset.
    #[must_use]
    pub fn sessions(mut self, sessions: SessionManager) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The session manager, if any.
    #[must_use]
    pub fn session_manager(&self) -> Option<&SessionManager> {
        self.sessions.as_ref()
    }

    /// The user store.
    #[must_use]
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.users
    }

    /// The password hasher.
    #[must_use]
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The token manager.
    #[must_use]
    pub fn tokens(&self) -> &Arc<JwtTokenManager> {
        &self.tokens
    }

    /// Logs in with an e-mail address and a password and returns a token
    /// pair; the same as [`authenticate_from`](Self::authenticate_from)
    /// without a client address.
    ///
    /// # Errors
    /// As [`authenticate_from`](Self::authenticate_from).
    pub async fn authenticate(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<AuthToken, AuthenticationFailed> {
        self.authenticate_from(identifier, password, None).await
    }

    /// Logs in with an e-mail address and a password; `ip`, the client's
    /// address when known, goes into the events.
    ///
    /// # Errors
    /// [`AuthenticationFailed`]: the same value whether the user is unknown,
    /// the password wrong, the account inactive or locked; one that
    /// [`is_unavailable`](AuthenticationFailed::is_unavailable) when a store,
    /// the hasher or the token signer failed.
    pub async fn authenticate_from(
        &self,
        identifier: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<AuthToken, AuthenticationFailed> {
        let (user_id, principal) = self
            .check_credentials(identifier, password, None, ip)
            .await?;
        let pair = self
            .tokens
            .create_token_pair(&principal)
            .await
            .map_err(|error| token_failed(&error))?;
        self.events.emit(AuthEvent::LoginSucceeded { user_id, ip });
        Ok(pair)
    }

    /// Logs in within `tenant` and returns a token pair whose principal
    /// acts in `tenant` with exactly the roles the user holds there; the
    /// same as [`authenticate_in_from`](Self::authenticate_in_from) without
    /// a client address.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lexigram_auth::authn::{
    ///     AuthenticationService, Created, MemoryUserStore, NewUser, TenantRoleStore, UserStore,
    /// };
    /// use lexigram_auth::password::PasswordHasher;
    /// use lexigram_auth::token::JwtTokenManager;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let hasher = PasswordHasher::default();
    /// let users = Arc::new(MemoryUserStore::new());
    /// let new = NewUser::new("ann@example.com", "Ann")
    ///     .with_roles(["admin"]) // global roles: not used within a tenant
    ///     .with_password_hash(hasher.hash("Correct-Horse-Battery-9").await?);
    /// let Created::Created(ann) = users.create_user(&new, 1_000).await? else { unreachable!() };
    /// users.assign(&ann.id, "acme", &["editor".into()]).await?;
    ///
    /// let tokens = JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")])?;
    /// let auth = AuthenticationService::new(users, hasher, tokens);
    /// let pair = auth.authenticate_in("acme", "ann@example.com", "Correct-Horse-Battery-9").await?;
    /// let verified = auth.tokens().verify_access(&pair.access_token)?;
    /// assert_eq!(verified.tenant.as_deref(), Some("acme"));
    /// assert_eq!(verified.roles, ["editor"]);
    ///
    /// // Not a member: refused, but only once the password was right.
    /// let refused = auth.authenticate_in("globex", "ann@example.com", "Correct-Horse-Battery-9").await;
    /// assert_eq!(refused.unwrap_err().code(), "not_a_member");
    /// let wrong = auth.authenticate_in("globex", "ann@example.com", "guess").await;
    /// assert_eq!(wrong.unwrap_err().code(), "invalid_credentials");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`authenticate_in_from`](Self::authenticate_in_from).
    pub async fn authenticate_in(
        &self,
        tenant: &str,
        identifier: &str,
        password: &str,
    ) -> Result<AuthToken, AuthenticationFailed> {
        self.authenticate_in_from(tenant, identifier, password, None)
            .await
    }

    /// Logs in within `tenant`; `ip`, the client's address when known, goes
    /// into the events.
    ///
    /// The credentials are checked exactly as by
    /// [`authenticate_from`](Self::authenticate_from) (lockout first, one
    /// password verification whatever happens, opaque refusals). Then the
    /// user's roles in `tenant` are read: the token pair's principal has
    /// tenant `tenant`, exactly those roles, and neither the user's global
    /// roles, nor its direct permissions, nor its home tenant. The refresh
    /// token carries the tenant, so every
    /// [`refresh_token`](Self::refresh_token) re-reads the roles of that
    /// tenant and fails once the membership has ended.
    ///
    /// A user with the right password who is not a member of `tenant` (a
    /// malformed tenant id has no members) is refused with
    /// [`AuthenticationFailed::not_a_member`] and a
    /// [`FailureReason::NotAMember`] event. That refusal neither counts a
    /// lockout failure (the password was right; lockout is about guessing
    /// passwords) nor clears earlier ones (no login took place), and it is
    /// never given for a wrong password, so it tells nothing to a caller
    /// without the account's credentials.
    ///
    /// # Errors
    /// As [`authenticate_from`](Self::authenticate_from), plus
    /// [`AuthenticationFailed::not_a_member`].
    pub async fn authenticate_in_from(
        &self,
        tenant: &str,
        identifier: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<AuthToken, AuthenticationFailed> {
        let (user_id, principal) = self
            .check_credentials(identifier, password, Some(tenant), ip)
            .await?;
        let pair = self
            .tokens
            .create_tenant_token_pair(&principal)
            .await
            .map_err(|error| token_failed(&error))?;
        self.events.emit(AuthEvent::LoginSucceeded { user_id, ip });
        Ok(pair)
    }

    /// The login of [`authenticate_from`](Self::authenticate_from) without
    /// the tokens: the same checks, lockout, hash upgrade and events, and
    /// the signed-in [`Principal`] (current roles, authentication time now,
    /// `amr` `pwd`) to start a [session](crate::session) with.
    ///
    /// # Errors
    /// As [`authenticate_from`](Self::authenticate_from).
    pub async fn login_principal(
        &self,
        identifier: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthenticationFailed> {
        let (user_id, principal) = self
            .check_credentials(identifier, password, None, ip)
            .await?;
        self.events.emit(AuthEvent::LoginSucceeded { user_id, ip });
        Ok(principal)
    }

    /// The login of [`authenticate_in_from`](Self::authenticate_in_from)
    /// without the tokens: the signed-in [`Principal`] acting in `tenant`
    /// with the roles the user holds there, to start a
    /// [session](crate::session) with.
    ///
    /// # Errors
    /// As [`authenticate_in_from`](Self::authenticate_in_from).
    pub async fn login_principal_in(
        &self,
        tenant: &str,
        identifier: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthenticationFailed> {
        let (user_id, principal) = self
            .check_credentials(identifier, password, Some(tenant), ip)
            .await?;
        self.events.emit(AuthEvent::LoginSucceeded { user_id, ip });
        Ok(principal)
    }

    /// Steps 1 to 4 of a login, up to the principal; within `tenant` when
    /// one is given.
    async fn check_credentials(
        &self,
        identifier: &str,
        password: &str,
        tenant: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<(String, Principal), AuthenticationFailed> {
        let identifier = normalize_email(identifier);

        // 1. Lockout, before any hashing.
        match self.lockout.check(&identifier).await {
            Ok(LockState::Open { .. }) => {}
            Ok(LockState::Locked { retry_after }) => {
                tracing::debug!(retry_after, "login refused: the account is locked");
                self.emit_failed(&identifier, FailureReason::Locked, ip);
                return Err(AuthenticationFailed::invalid_credentials());
            }
            Err(error) => return Err(store_failed("lockout", &error)),
        }

        // 2. The user, and one password verification whatever happens.
        let user = if identifier.len() > MAX_EMAIL_LEN {
            None
        } else {
            self.users
                .user_by_email(&identifier)
                .await
                .map_err(|e| store_failed("user", &e))?
        };
        let Some(user) = user else {
            self.hasher
                .verify_dummy(password)
                .await
                .map_err(|e| hasher_failed(&e))?;
            return Err(self
                .refuse(&identifier, FailureReason::UnknownUser, ip)
                .await);
        };
        let stored = self
            .users
            .credentials(&user.id)
            .await
            .map_err(|e| store_failed("user", &e))?
            .and_then(|c| c.password_hash);
        let verification = self.verify(password, stored.as_deref()).await?;

        // 3. Refusals.
        if !user.active {
            return Err(self.refuse(&identifier, FailureReason::Inactive, ip).await);
        }
        let (Verification::Match { needs_rehash }, Some(stored)) = (verification, stored) else {
            return Err(self
                .refuse(&identifier, FailureReason::WrongPassword, ip)
                .await);
        };
        // The right password: only now may membership be told.
        let mut membership = None;
        if let Some(tenant) = tenant {
            let Some(roles) = self.roles_in(&user.id, tenant).await? else {
                tracing::debug!(user_id = %user.id, "login refused: not a member of the tenant");
                self.emit_failed(&identifier, FailureReason::NotAMember, ip);
                return Err(AuthenticationFailed::not_a_member());
            };
            membership = Some((tenant, roles));
        }

        // 4. Success.
        self.lockout
            .clear(&identifier)
            .await
            .map_err(|e| store_failed("lockout", &e))?;
        let recorded = self
            .users
            .record_login(&user.id, self.clock.unix_seconds())
            .await
            .map_err(|e| store_failed("user", &e))?;
        if !recorded {
            // Deleted between the look-up and now.
            self.emit_failed(&identifier, FailureReason::UnknownUser, ip);
            return Err(AuthenticationFailed::invalid_credentials());
        }
        if needs_rehash {
            self.upgrade_hash(&user, password, &stored).await;
        }
        let principal = match membership {
            Some((tenant, roles)) => user.principal_in(tenant, roles),
            None => user.principal(),
        };
        let method = principal.auth_method();
        let principal = principal
            .with_authentication(method, Some(self.clock.now()))
            .with_amr(["pwd"]);
        Ok((user.id, principal))
    }

    /// Exchanges a refresh token (single use) for a new pair whose access
    /// token carries the user's current roles, read from the user store: a
    /// deleted or inactive user can no longer refresh. For a login within a
    /// tenant, the roles are those the user holds in that tenant now, and a
    /// user who is no longer a member can no longer refresh
    /// ([`TokenError::Revoked`]). Emits [`AuthEvent::TokenRefreshed`].
    ///
    /// # Errors
    /// As [`JwtTokenManager::refresh`]: [`TokenError::RefreshReused`] when the
    /// token was already used (its whole family is then revoked),
    /// [`TokenError::Revoked`] for a revoked token or a user who is gone or
    /// inactive, [`TokenError::Unavailable`] when a store cannot answer.
    pub async fn refresh_token(&self, refresh_token: &str) -> Result<AuthToken, TokenError> {
        let user_id = self.tokens.verify_refresh(refresh_token)?.user_id;
        let pair = self
            .tokens
            .refresh(refresh_token, &Lookup(self.users.as_ref()))
            .await?;
        self.events.emit(AuthEvent::TokenRefreshed { user_id });
        Ok(pair)
    }

    /// Logs out one token, and with it the login it belongs to: the token
    /// is revoked by its id, and its refresh-token family (shared by the
    /// login's access and refresh tokens) with it, so that neither the
    /// login's refresh token nor its other access tokens work any more.
    /// Emits [`AuthEvent::TokenRevoked`] and [`AuthEvent::LoggedOut`].
    ///
    /// # Errors
    /// A verification error (an expired or forged token needs no
    /// revocation), or [`TokenError::Unavailable`] when the revocation store
    /// cannot record it.
    pub async fn logout(&self, token: &str) -> Result<(), TokenError> {
        let verified = match self.tokens.verify_access(token) {
            Err(TokenError::WrongType) => self.tokens.verify_refresh(token)?,
            other => other?,
        };
        self.tokens.revoke(token).await?;
        self.events.emit(AuthEvent::TokenRevoked {
            user_id: verified.user_id.clone(),
            jti: Some(verified.jti),
        });
        self.events.emit(AuthEvent::LoggedOut {
            user_id: verified.user_id,
        });
        Ok(())
    }

    /// Revokes every token `user_id` holds, issued up to this second, and
    /// ends their [sessions](Self::sessions) ("log out everywhere"). Emits
    /// [`AuthEvent::TokenRevoked`] with no `jti`.
    ///
    /// # Errors
    /// [`TokenError::Unavailable`] when the revocation store cannot record it.
    pub async fn logout_all(&self, user_id: &str) -> Result<(), TokenError> {
        self.tokens.revoke_user(user_id).await?;
        self.end_sessions(user_id).await.map_err(|error| {
            tracing::warn!(%error, "the sessions could not be ended");
            TokenError::Unavailable
        })?;
        self.events.emit(AuthEvent::TokenRevoked {
            user_id: user_id.to_owned(),
            jti: None,
        });
        Ok(())
    }

    /// Ends every session of `user_id` in the [session manager](Self::sessions),
    /// if there is one; returns how many ended.
    pub(super) async fn end_sessions(
        &self,
        user_id: &str,
    ) -> Result<u64, crate::error::SessionError> {
        match &self.sessions {
            Some(sessions) => sessions.revoke_all(user_id).await,
            None => Ok(0),
        }
    }

    /// Verifies `password` against the stored hash, or against the dummy
    /// hash when there is none usable, so that every path costs one
    /// verification.
    pub(super) async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, AuthenticationFailed> {
        let Some(stored) = stored else {
            // An account without a password (federated sign-in only).
            self.hasher
                .verify_dummy(password)
                .await
                .map_err(|e| hasher_failed(&e))?;
            return Ok(Verification::NoMatch);
        };
        match self.hasher.verify(password, stored).await {
            Ok(verification) => Ok(verification),
            Err(
                error @ (PasswordError::InvalidStoredHash(_)
                | PasswordError::UnsupportedScheme(_)
                | PasswordError::ParametersOutOfRange { .. }),
            ) => {
                // The stored hash cannot be checked: nothing can match it.
                // Refuse like a wrong password, at the same cost, and tell
                // the operator.
                tracing::error!(%error, "a stored password hash cannot be verified");
                self.hasher
                    .verify_dummy(password)
                    .await
                    .map_err(|e| hasher_failed(&e))?;
                Ok(Verification::NoMatch)
            }
            Err(error) => Err(hasher_failed(&error)),
        }
    }

    /// The roles of `user_id` in `tenant`; `None` when it is not a member,
    /// the tenant id is malformed, or the user store keeps no tenant roles.
    async fn roles_in(
        &self,
        user_id: &str,
        tenant: &str,
    ) -> Result<Option<Vec<String>>, AuthenticationFailed> {
        if check_tenant(tenant).is_err() {
            return Ok(None);
        }
        let Some(assignments) = self.users.tenant_roles() else {
            tracing::error!(
                "a login within a tenant was refused: the user store keeps no tenant role assignments"
            );
            return Ok(None);
        };
        assignments
            .roles_in(user_id, tenant)
            .await
            .map_err(|e| store_failed("tenant roles", &e))
    }

    /// Emits the failure, counts it against the account and says so when it
    /// locks the account. Returns the error to give the caller.
    pub(super) async fn refuse(
        &self,
        identifier: &str,
        reason: FailureReason,
        ip: Option<IpAddr>,
    ) -> AuthenticationFailed {
        self.emit_failed(identifier, reason, ip);
        match self.lockout.record_failure(identifier).await {
            Ok(LockState::Open { .. }) => AuthenticationFailed::invalid_credentials(),
            Ok(LockState::Locked { retry_after }) => {
                self.events.emit(AuthEvent::LockedOut {
                    identifier: identifier.to_owned(),
                    retry_after,
                });
                AuthenticationFailed::invalid_credentials()
            }
            Err(error) => store_failed("lockout", &error),
        }
    }

    fn emit_failed(&self, identifier: &str, reason: FailureReason, ip: Option<IpAddr>) {
        self.events.emit(AuthEvent::LoginFailed {
            identifier: identifier.to_owned(),
            reason,
            ip,
        });
    }

    /// Replaces `old` with a hash made with the current parameters, unless
    /// the stored hash changed meanwhile. Best effort: the login stands
    /// whatever happens, and the old hash keeps working.
    async fn upgrade_hash(&self, user: &User, password: &str, old: &str) {
        let new = match self.hasher.hash(password).await {
            Ok(new) => new,
            Err(error) => {
                tracing::warn!(%error, "the password hash could not be upgraded");
                return;
            }
        };
        let swap = self
            .users
            .replace_password_hash(
                &user.id,
                Some(old),
                &new,
                self.password_history,
                self.clock.unix_seconds(),
            )
            .await;
        match swap {
            Ok(HashSwap::Swapped) => {
                tracing::debug!(user_id = %user.id, "password hash upgraded");
            }
            Ok(HashSwap::Stale) => tracing::debug!(
                user_id = %user.id,
                "password hash changed concurrently; the upgrade was dropped"
            ),
            Ok(HashSwap::Missing) => tracing::debug!(
                user_id = %user.id,
                "the user is gone; the upgrade was dropped"
            ),
            Err(error) => {
                tracing::warn!(%error, "the upgraded password hash could not be stored");
            }
        }
    }
}

pub(super) fn store_failed(store: &'static str, error: &StoreError) -> AuthenticationFailed {
    tracing::error!(%error, store, "login refused: a store cannot answer");
    AuthenticationFailed::unavailable()
}

fn token_failed(error: &TokenError) -> AuthenticationFailed {
    tracing::error!(%error, "login refused: the token pair could not be signed");
    AuthenticationFailed::unavailable()
}

pub(super) fn hasher_failed(error: &PasswordError) -> AuthenticationFailed {
    tracing::error!(%error, "login refused: the password hasher failed");
    AuthenticationFailed::unavailable()
}

/// A user store as the [`UserLookup`] of refresh rotation (a `&dyn
/// UserStore` cannot be turned into a `&dyn UserLookup` directly).
struct Lookup<'a>(&'a dyn UserStore);

impl UserLookup for Lookup<'_> {
    fn current_principal<'b>(&'b self, user_id: &'b str) -> StoreFuture<'b, Option<Principal>> {
        self.0.current_principal(user_id)
    }

    fn current_principal_in<'b>(
        &'b self,
        user_id: &'b str,
        tenant: &'b str,
    ) -> StoreFuture<'b, Option<Principal>> {
        self.0.current_principal_in(user_id, tenant)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::Receiver;

    use super::*;
    use crate::authn::Failures;
    use crate::authn::{
        ChannelSink, Created, Credentials, LockoutStore, MemoryUserStore, NewUser, TenantRoleStore,
        Updated,
    };

    /// A memory user store that can be made to fail like a dead database.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: MemoryUserStore,
        down: AtomicBool,
        /// Fails `replace_password_hash` only.
        swap_down: AtomicBool,
        /// Whether the store keeps tenant roles (those of `inner`).
        tenants: AtomicBool,
        /// Fails `roles_in` only.
        tenants_down: AtomicBool,
    }

    impl TenantRoleStore for Flaky {
        fn assign<'a>(
            &'a self,
            user_id: &'a str,
            tenant: &'a str,
            roles: &'a [String],
        ) -> StoreFuture<'a, bool> {
            self.inner.assign(user_id, tenant, roles)
        }
        fn unassign<'a>(&'a self, user_id: &'a str, tenant: &'a str) -> StoreFuture<'a, bool> {
            self.inner.unassign(user_id, tenant)
        }
        fn roles_in<'a>(
            &'a self,
            user_id: &'a str,
            tenant: &'a str,
        ) -> StoreFuture<'a, Option<Vec<String>>> {
            if self.tenants_down.load(Ordering::SeqCst) {
                return Box::pin(async {
                    Err(StoreError::Corrupt {
                        backend: "test",
                        detail: "simulated outage",
                    })
                });
            }
            self.inner.roles_in(user_id, tenant)
        }
        fn tenants_of<'a>(
            &'a self,
            user_id: &'a str,
        ) -> StoreFuture<'a, Vec<(String, Vec<String>)>> {
            self.inner.tenants_of(user_id)
        }
    }

    impl Flaky {
        fn check(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Corrupt {
                    backend: "test",
                    detail: "simulated outage",
                })
            } else {
                Ok(())
            }
        }
    }

    macro_rules! guarded {
        ($self:ident, $call:expr) => {
            Box::pin(async move {
                $self.check()?;
                $call.await
            })
        };
    }

    impl UserStore for Flaky {
        fn create_user<'a>(&'a self, user: &'a NewUser, now: u64) -> StoreFuture<'a, Created> {
            guarded!(self, self.inner.create_user(user, now))
        }
        fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<User>> {
            guarded!(self, self.inner.user_by_id(id))
        }
        fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<User>> {
            guarded!(self, self.inner.user_by_email(email))
        }
        fn update_user<'a>(&'a self, user: &'a User, now: u64) -> StoreFuture<'a, Updated> {
            guarded!(self, self.inner.update_user(user, now))
        }
        fn delete_user<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
            guarded!(self, self.inner.delete_user(id))
        }
        fn list_users(&self, offset: u64, limit: u64) -> StoreFuture<'_, Vec<User>> {
            guarded!(self, self.inner.list_users(offset, limit))
        }
        fn count_users(&self) -> StoreFuture<'_, u64> {
            guarded!(self, self.inner.count_users())
        }
        fn credentials<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Credentials>> {
            guarded!(self, self.inner.credentials(id))
        }
        fn replace_password_hash<'a>(
            &'a self,
            id: &'a str,
            expected: Option<&'a str>,
            new_hash: &'a str,
            history: usize,
            now: u64,
        ) -> StoreFuture<'a, HashSwap> {
            if self.swap_down.load(Ordering::SeqCst) {
                return Box::pin(async {
                    Err(StoreError::Corrupt {
                        backend: "test",
                        detail: "simulated outage",
                    })
                });
            }
            guarded!(
                self,
                self.inner
                    .replace_password_hash(id, expected, new_hash, history, now)
            )
        }
        fn record_login<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool> {
            guarded!(self, self.inner.record_login(id, at))
        }
        fn tenant_roles(&self) -> Option<&dyn TenantRoleStore> {
            if self.tenants.load(Ordering::SeqCst) {
                Some(self)
            } else {
                None
            }
        }
    }

    /// A lockout store that never answers.
    #[derive(Debug)]
    struct DeadLockout;

    impl LockoutStore for DeadLockout {
        fn failures<'a>(&'a self, _: &'a str, _: u64) -> StoreFuture<'a, Failures> {
            Box::pin(async { Err(StoreError::InvalidId { what: "outage" }) })
        }
        fn add_failure<'a>(
            &'a self,
            _: &'a str,
            _: LockoutConfig,
            _: u64,
        ) -> StoreFuture<'a, Failures> {
            Box::pin(async { Err(StoreError::InvalidId { what: "outage" }) })
        }
        fn clear<'a>(&'a self, _: &'a str) -> StoreFuture<'a, ()> {
            Box::pin(async { Err(StoreError::InvalidId { what: "outage" }) })
        }
    }

    const PASSWORD: &str = "Correct-Horse-Battery-9";

    async fn setup(
        hash: Option<String>,
    ) -> (AuthenticationService, Arc<Flaky>, Receiver<AuthEvent>) {
        let hasher = PasswordHasher::default();
        let users = Arc::new(Flaky::default());
        let mut new = NewUser::new("alice@example.com", "Alice");
        new.password_hash = hash;
        let Ok(Created::Created(_)) = users.create_user(&new, 1).await else {
            panic!("alice")
        };
        let tokens = JwtTokenManager::new("k", [("k", [9u8; 32])]).unwrap();
        let (sink, events) = ChannelSink::new();
        let service =
            AuthenticationService::new(users.clone(), hasher, tokens).events(Arc::new(sink));
        (service, users, events)
    }

    fn reasons(events: &Receiver<AuthEvent>) -> Vec<FailureReason> {
        events
            .try_iter()
            .filter_map(|e| match e {
                AuthEvent::LoginFailed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_error_is_opaque_except_for_unavailability() {
        let bad = AuthenticationFailed::invalid_credentials();
        let down = AuthenticationFailed::unavailable();
        assert_ne!(bad, down);
        assert_ne!(bad.code(), down.code());
        assert_ne!(bad.to_string(), down.to_string());
        assert!(down.is_unavailable() && !bad.is_unavailable());
        let outsider = AuthenticationFailed::not_a_member();
        assert!(outsider.is_not_a_member() && !outsider.is_unavailable());
        assert!(!bad.is_not_a_member() && !down.is_not_a_member());
        assert_eq!(outsider.code(), "not_a_member");
        for other in [bad, down] {
            assert_ne!(outsider, other);
            assert_ne!(outsider.to_string(), other.to_string());
        }
    }

    #[tokio::test]
    async fn a_tenant_login_checks_the_password_before_membership() {
        let hash = PasswordHasher::default().hash(PASSWORD).await.unwrap();
        let (service, users, events) = setup(Some(hash)).await;
        let login =
            |password: &'static str| service.authenticate_in("acme", "alice@example.com", password);

        // Without tenant roles in the store, nobody is a member of anything.
        assert!(users.tenant_roles().is_none());
        assert_eq!(
            login("guess").await.unwrap_err(),
            AuthenticationFailed::invalid_credentials()
        );
        assert_eq!(reasons(&events), [FailureReason::WrongPassword]);
        assert!(login(PASSWORD).await.unwrap_err().is_not_a_member());
        assert_eq!(reasons(&events), [FailureReason::NotAMember]);
        assert_eq!(service.hasher().verifications(), 2);

        // With them, a member gets the tenant and its roles there only.
        users.tenants.store(true, Ordering::SeqCst);
        let alice = users
            .inner
            .user_by_email("alice@example.com")
            .await
            .unwrap()
            .unwrap();
        users
            .inner
            .assign(&alice.id, "acme", &["editor".into()])
            .await
            .unwrap();
        let pair = login(PASSWORD).await.unwrap();
        let verified = service.tokens().verify_access(&pair.access_token).unwrap();
        assert_eq!(verified.tenant.as_deref(), Some("acme"));
        assert_eq!(verified.roles, ["editor"]);

        // A membership that cannot be read fails closed, and is only read
        // after the right password.
        users.tenants_down.store(true, Ordering::SeqCst);
        assert!(login(PASSWORD).await.unwrap_err().is_unavailable());
        assert_eq!(
            login("guess").await.unwrap_err(),
            AuthenticationFailed::invalid_credentials()
        );
    }

    #[tokio::test]
    async fn a_dead_lockout_store_fails_closed_before_any_hashing() {
        let (service, _, events) = setup(None).await;
        let service = service.lockout(Lockout::new(
            Arc::new(DeadLockout),
            LockoutConfig::default(),
        ));
        let err = service.authenticate("alice@example.com", PASSWORD).await;
        assert!(err.unwrap_err().is_unavailable());
        assert_eq!(service.hasher().verifications(), 0);
        assert!(events.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_dead_user_store_fails_closed_not_as_unknown_user() {
        let (service, users, events) = setup(None).await;
        users.down.store(true, Ordering::SeqCst);
        let err = service
            .authenticate("alice@example.com", PASSWORD)
            .await
            .unwrap_err();
        assert!(err.is_unavailable());
        assert_eq!(err.code(), "authentication_unavailable");
        assert!(reasons(&events).is_empty());
    }

    #[tokio::test]
    async fn an_account_without_password_costs_one_verification_and_is_refused() {
        let (service, _, events) = setup(None).await;
        let err = service
            .authenticate("alice@example.com", PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(err, AuthenticationFailed::invalid_credentials());
        assert_eq!(service.hasher().verifications(), 1);
        assert_eq!(reasons(&events), [FailureReason::WrongPassword]);
    }

    #[tokio::test]
    async fn an_unverifiable_stored_hash_is_refused_at_the_same_cost() {
        for stored in ["$pbkdf2-sha256$i=1$x$y", "not a hash", "$2x$10$abc"] {
            let (service, _, events) = setup(Some(stored.to_owned())).await;
            let err = service
                .authenticate("alice@example.com", PASSWORD)
                .await
                .unwrap_err();
            assert_eq!(err, AuthenticationFailed::invalid_credentials(), "{stored}");
            assert_eq!(service.hasher().verifications(), 1, "{stored}");
            assert_eq!(reasons(&events), [FailureReason::WrongPassword]);
        }
    }

    #[tokio::test]
    async fn an_overlong_identifier_is_an_unknown_user() {
        let (service, _, events) = setup(None).await;
        let long = format!("{}@example.com", "a".repeat(300));
        let err = service.authenticate(&long, PASSWORD).await.unwrap_err();
        assert_eq!(err, AuthenticationFailed::invalid_credentials());
        assert_eq!(service.hasher().verifications(), 1);
        assert_eq!(reasons(&events), [FailureReason::UnknownUser]);
    }

    #[tokio::test]
    async fn a_failed_upgrade_does_not_fail_the_login() {
        // A hash with t=1 (below the default t=2) asks for an upgrade; the
        // store then goes down for the swap only: the login still stands.
        let hasher = PasswordHasher::new(crate::password::Argon2Params {
            memory_kib: 47_104,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let weak = hasher.hash(PASSWORD).await.unwrap();
        let (service, users, _) = setup(Some(weak.clone())).await;
        assert!(
            service
                .hasher()
                .verify(PASSWORD, &weak)
                .await
                .unwrap()
                .needs_rehash()
        );
        users.swap_down.store(true, Ordering::SeqCst);
        assert!(
            service
                .authenticate("alice@example.com", PASSWORD)
                .await
                .is_ok()
        );
        let id = users
            .user_by_email("alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let creds = users.credentials(&id).await.unwrap().unwrap();
        assert_eq!(creds.password_hash.as_deref(), Some(weak.as_str()));
        // Once the store answers again, the next login upgrades.
        users.swap_down.store(false, Ordering::SeqCst);
        let pair = service.authenticate("alice@example.com", PASSWORD).await;
        assert!(pair.is_ok());
        let creds = users.credentials(&id).await.unwrap().unwrap();
        assert_ne!(creds.password_hash.as_deref(), Some(weak.as_str()));
        assert_eq!(creds.previous_hashes, [weak]);
    }
}
