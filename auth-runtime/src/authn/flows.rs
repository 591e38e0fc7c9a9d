//! The account flows of [`AuthenticationService`] (AUTHN-6): registration,
//! password change, password reset and e-mail verification.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::onetime::{new_token, well_formed};
use super::user::checked_email;
use super::{
    AuthEvent, AuthenticationService, Created, FailureReason, HashSwap, LockState, MAX_EMAIL_LEN,
    Mail, Mailer, NewUser, OneTimeToken, OneTimeTokenStore, TokenPurpose, Updated, User,
    normalize_email, token_digest,
};
use crate::error::AccountError;
use crate::password::{PasswordConfig, PasswordContext, PasswordPolicy, Verification};
use crate::store::StoreError;

/// The longest display name accepted at registration, in characters.
const MAX_NAME_CHARS: usize = 100;

/// How many times a reset retries its write when the hash changes under it.
const RESET_ATTEMPTS: usize = 3;

/// Settings of the account flows.
///
/// ```
/// use std::time::Duration;
/// use lexigram_auth::authn::AccountConfig;
///
/// let config = AccountConfig::default();
/// assert_eq!(config.default_roles, ["viewer"]);
/// assert_eq!(config.reset_ttl, Duration::from_secs(30 * 60));
/// assert_eq!(config.verification_ttl, Duration::from_secs(24 * 60 * 60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// Roles given to a user who registers (default `["viewer"]`).
    pub default_roles: Vec<String>,
    /// How long a password-reset token works (default 30 minutes).
    pub reset_ttl: Duration,
    /// How long an e-mail verification token works (default 24 hours).
    pub verification_ttl: Duration,
    /// The link mailed for a reset: `{token}` is replaced by the token. With
    /// `None` (the default) the mail holds the bare token.
    pub reset_link: Option<String>,
    /// The link mailed for e-mail verification, as `reset_link`.
    pub verification_link: Option<String>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            default_roles: vec![String::from("viewer")],
            reset_ttl: Duration::from_secs(30 * 60),
            verification_ttl: Duration::from_secs(24 * 60 * 60),
            reset_link: None,
            verification_link: None,
        }
    }
}

/// A registration request. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// The e-mail address, the login identifier.
    pub email: String,
    /// The display name (1 to 100 characters once trimmed).
    pub name: String,
    /// The password, checked against the policy.
    pub password: String,
}

impl fmt::Debug for NewRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRegistration")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &'static str, error: &dyn fmt::Display) -> AccountError {
    tracing::error!(%error, what, "account operation refused: a backend failed");
    AccountError::Unavailable
}

fn store(error: StoreError) -> AccountError {
    unavailable("store", &error)
}

impl AuthenticationService {
    /// Checks new passwords with `policy` (default: the default
    /// [`PasswordConfig`]).
    #[must_use]
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sends reset and verification mail through `mailer` (default
    /// [`LoggingMailer`](super::LoggingMailer), which sends nothing).
    #[must_use]
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Keeps reset and verification tokens in `store` (default in memory).
    #[must_use]
    pub fn one_time_tokens(mut self, store: Arc<dyn OneTimeTokenStore>) -> Self {
        self.one_time = store;
        self
    }

    /// Uses `config` for the account flows.
    #[must_use]
    pub fn account_config(mut self, config: AccountConfig) -> Self {
        self.accounts = config;
        self
    }

    /// The one-time token store.
    #[must_use]
    pub fn one_time_token_store(&self) -> &Arc<dyn OneTimeTokenStore> {
        &self.one_time
    }

    /// Registers a user: checks the e-mail address, the name and the
    /// password (every policy violation at once, the e-mail address as
    /// context), hashes the password, creates the user with the
    /// [default roles](AccountConfig::default_roles), unverified, emits
    /// [`AuthEvent::UserRegistered`] and mails an e-mail verification token
    /// (see [`verify_email`](Self::verify_email)).
    ///
    /// A mail that cannot be sent does not undo the registration: it is
    /// logged, and [`resend_verification`](Self::resend_verification) sends
    /// another.
    ///
    /// # Errors
    /// [`AccountError::InvalidEmail`], [`AccountError::InvalidName`],
    /// [`AccountError::WeakPassword`], [`AccountError::EmailTaken`] (in any
    /// spelling of the address), [`AccountError::Unavailable`].
    pub async fn register(&self, registration: NewRegistration) -> Result<User, AccountError> {
        let email = checked_email(&registration.email).map_err(|_| AccountError::InvalidEmail)?;
        let name = registration.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AccountError::InvalidName);
        }
        self.check_policy(
            &registration.password,
            &PasswordContext::new().email(&email),
        )?;
        let hash = self
            .hasher
            .hash(&registration.password)
            .await
            .map_err(|e| unavailable("hasher", &e))?;
        let new = NewUser::new(email, name)
            .with_roles(self.accounts.default_roles.iter().cloned())
            .with_password_hash(hash);
        let user = match self
            .users
            .create_user(&new, self.clock.unix_seconds())
            .await
            .map_err(store)?
        {
            Created::Created(user) => user,
            Created::EmailTaken => return Err(AccountError::EmailTaken),
        };
        self.events.emit(AuthEvent::UserRegistered {
            user_id: user.id.clone(),
        });
        self.send_token(&user, TokenPurpose::EmailVerification)
            .await?;
        Ok(user)
    }

    /// Mails a new e-mail verification token to an existing, active,
    /// unverified account; answers `Ok(())` the same whether or not there is
    /// one, so it tells nobody which addresses are registered.
    ///
    /// # Errors
    /// [`AccountError::Unavailable`] when the user store cannot answer.
    pub async fn resend_verification(&self, email: &str) -> Result<(), AccountError> {
        let Some(user) = self.active_user_by_email(email).await? else {
            return Ok(());
        };
        if !user.verified {
            self.send_token(&user, TokenPurpose::EmailVerification)
                .await?;
        }
        Ok(())
    }

    /// Marks the user's e-mail address verified, given the token mailed at
    /// registration: single use, refused once expired. Emits
    /// [`AuthEvent::EmailVerified`]; returns the user.
    ///
    /// # Errors
    /// [`AccountError::InvalidToken`] for an unknown, used, expired or
    /// other-purpose token (or a user who is gone),
    /// [`AccountError::Unavailable`].
    pub async fn verify_email(&self, token: &str) -> Result<User, AccountError> {
        if !well_formed(token) {
            return Err(AccountError::InvalidToken);
        }
        let user_id = self
            .one_time
            .consume(
                &token_digest(token),
                TokenPurpose::EmailVerification,
                self.clock.unix_seconds(),
            )
            .await
            .map_err(store)?
            .ok_or(AccountError::InvalidToken)?;
        let mut user = self
            .users
            .user_by_id(&user_id)
            .await
            .map_err(store)?
            .ok_or(AccountError::InvalidToken)?;
        if !user.verified {
            user.verified = true;
            match self
                .users
                .update_user(&user, self.clock.unix_seconds())
                .await
                .map_err(store)?
            {
                Updated::Updated => {}
                Updated::Missing => return Err(AccountError::InvalidToken),
                // Only `verified` changed: the address is the stored one.
                Updated::EmailTaken => return Err(AccountError::Unavailable),
            }
        }
        self.events.emit(AuthEvent::EmailVerified {
            user_id: user.id.clone(),
        });
        Ok(user)
    }

    /// Changes a signed-in user's password: the current password is
    /// verified first (a wrong one counts against the account's lockout and
    /// emits [`AuthEvent::LoginFailed`], like a failed login), then the new
    /// one must pass the policy and differ from the current and the last
    /// [`password_history`](Self::password_history) passwords. The hash is
    /// replaced by compare-and-swap, **every** token of the user is revoked
    /// (the caller's own included: sign in again), pending reset tokens are
    /// voided, and [`AuthEvent::TokenRevoked`] and
    /// [`AuthEvent::PasswordChanged`] are emitted.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] (wrong current password; an
    /// unknown, inactive or locked account alike),
    /// [`AccountError::WeakPassword`], [`AccountError::PasswordReused`],
    /// [`AccountError::ConcurrentChange`], [`AccountError::Unavailable`].
    pub async fn change_password(
        &self,
        user_id: &str,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let user = self.users.user_by_id(user_id).await.map_err(store)?;
        let Some(user) = user.filter(|u| u.active) else {
            self.hasher
                .verify_dummy(current)
                .await
                .map_err(|e| unavailable("hasher", &e))?;
            return Err(AccountError::InvalidCredentials);
        };
        match self.lockout.check(&user.email).await.map_err(store)? {
            LockState::Open { .. } => {}
            LockState::Locked { .. } => return Err(AccountError::InvalidCredentials),
        }
        let credentials = self.users.credentials(&user.id).await.map_err(store)?;
        let (stored, previous) = credentials
            .map(|c| (c.password_hash, c.previous_hashes))
            .unwrap_or_default();
        let verification = self
            .verify(current, stored.as_deref())
            .await
            .map_err(|_| AccountError::Unavailable)?;
        let (Verification::Match { .. }, Some(stored)) = (verification, stored) else {
            let refused = self
                .refuse(&user.email, FailureReason::WrongPassword, None)
                .await;
            return Err(if refused.is_unavailable() {
                AccountError::Unavailable
            } else {
                AccountError::InvalidCredentials
            });
        };
        self.check_policy(
            new,
            &PasswordContext::new().user_id(&user.id).email(&user.email),
        )?;
        self.check_history(new, Some(&stored), &previous).await?;
        let hash = self
            .hasher
            .hash(new)
            .await
            .map_err(|e| unavailable("hasher", &e))?;
        match self
            .users
            .replace_password_hash(
                &user.id,
                Some(&stored),
                &hash,
                self.password_history,
                self.clock.unix_seconds(),
            )
            .await
            .map_err(store)?
        {
            HashSwap::Swapped => {}
            HashSwap::Stale => return Err(AccountError::ConcurrentChange),
            HashSwap::Missing => return Err(AccountError::InvalidCredentials),
        }
        self.after_password_set(&user.id).await
    }

    /// Starts a password reset: for an existing, active account, stores the
    /// SHA-256 of a fresh token (32 random bytes, base64url) with its expiry
    /// ([`AccountConfig::reset_ttl`]) and mails the token; emits
    /// [`AuthEvent::PasswordResetRequested`]. Answers `Ok(())` whether or
    /// not the address is registered, so it tells nobody which are; a mail
    /// that cannot be sent is logged, not reported. Its *duration* does
    /// depend on it (a store write and a mail for a registered address):
    /// answer the client first and run it afterwards, as the ready-made
    /// `POST /password/reset` route does.
    ///
    /// # Errors
    /// [`AccountError::Unavailable`] when a store cannot answer.
    pub async fn request_reset(&self, email: &str) -> Result<(), AccountError> {
        let Some(user) = self.active_user_by_email(email).await? else {
            return Ok(());
        };
        self.send_token(&user, TokenPurpose::PasswordReset).await?;
        self.events
            .emit(AuthEvent::PasswordResetRequested { user_id: user.id });
        Ok(())
    }

    /// Completes a password reset with the mailed token: the new password
    /// must pass the policy and differ from the current and recent ones;
    /// the token is then used up (atomically: it works once), the hash
    /// replaced (the old one kept in the history), every token of the user
    /// revoked, other pending reset tokens voided, the lockout of the
    /// account cleared, and [`AuthEvent::TokenRevoked`] and
    /// [`AuthEvent::PasswordChanged`] emitted.
    ///
    /// A password refused by the policy does not use the token up.
    ///
    /// # Errors
    /// [`AccountError::InvalidToken`] for an unknown, used or expired token
    /// (or a user who is gone or inactive), [`AccountError::WeakPassword`],
    /// [`AccountError::PasswordReused`], [`AccountError::Unavailable`].
    pub async fn confirm_reset(&self, token: &str, new_password: &str) -> Result<(), AccountError> {
        if !well_formed(token) {
            return Err(AccountError::InvalidToken);
        }
        let digest = token_digest(token);
        let purpose = TokenPurpose::PasswordReset;
        let user_id = self
            .one_time
            .peek(&digest, purpose, self.clock.unix_seconds())
            .await
            .map_err(store)?
            .ok_or(AccountError::InvalidToken)?;
        let user = self.users.user_by_id(&user_id).await.map_err(store)?;
        let Some(user) = user.filter(|u| u.active) else {
            return Err(AccountError::InvalidToken);
        };
        self.check_policy(
            new_password,
            &PasswordContext::new().user_id(&user.id).email(&user.email),
        )?;
        let credentials = self.users.credentials(&user.id).await.map_err(store)?;
        let (stored, previous) = credentials
            .map(|c| (c.password_hash, c.previous_hashes))
            .unwrap_or_default();
        self.check_history(new_password, stored.as_deref(), &previous)
            .await?;
        let hash = self
            .hasher
            .hash(new_password)
            .await
            .map_err(|e| unavailable("hasher", &e))?;
        // Used up only now, right before the write: a refused password
        // leaves the token usable.
        self.one_time
            .consume(&digest, purpose, self.clock.unix_seconds())
            .await
            .map_err(store)?
            .filter(|id| *id == user.id)
            .ok_or(AccountError::InvalidToken)?;
        let mut expected = stored;
        let mut written = false;
        for _ in 0..RESET_ATTEMPTS {
            match self
                .users
                .replace_password_hash(
                    &user.id,
                    expected.as_deref(),
                    &hash,
                    self.password_history,
                    self.clock.unix_seconds(),
                )
                .await
                .map_err(store)?
            {
                HashSwap::Swapped => {
                    written = true;
                    break;
                }
                HashSwap::Missing => return Err(AccountError::InvalidToken),
                HashSwap::Stale => {
                    expected = self
                        .users
                        .credentials(&user.id)
                        .await
                        .map_err(store)?
                        .and_then(|c| c.password_hash);
                }
            }
        }
        if !written {
            return Err(AccountError::ConcurrentChange);
        }
        self.lockout.clear(&user.email).await.map_err(store)?;
        self.after_password_set(&user.id).await
    }

    /// Disables an account: it can no longer sign in, every token it holds
    /// is revoked and every session ended (on every instance sharing the
    /// stores); emits [`AuthEvent::UserDisabled`]. `false` if there is no
    /// such user. Re-enable an account with
    /// [`UserStore::update_user`](super::UserStore::update_user).
    ///
    /// # Errors
    /// [`AccountError::Unavailable`] when a store cannot answer (the
    /// account may then be disabled with some tokens or sessions still
    /// live: retry).
    pub async fn disable_user(&self, user_id: &str) -> Result<bool, AccountError> {
        let Some(mut user) = self.users.user_by_id(user_id).await.map_err(store)? else {
            return Ok(false);
        };
        user.active = false;
        match self
            .users
            .update_user(&user, self.clock.unix_seconds())
            .await
            .map_err(store)?
        {
            Updated::Updated => {}
            Updated::Missing => return Ok(false),
            Updated::EmailTaken => return Err(AccountError::ConcurrentChange),
        }
        self.tokens
            .revoke_user(user_id)
            .await
            .map_err(|e| unavailable("revocation", &e))?;
        self.end_sessions(user_id).await.map_err(|error| {
            tracing::warn!(%error, "the sessions could not be ended");
            AccountError::Unavailable
        })?;
        self.events.emit(AuthEvent::UserDisabled {
            user_id: user_id.to_owned(),
        });
        Ok(true)
    }

    /// Revokes the user's tokens and pending reset tokens and emits the
    /// events of a password change.
    async fn after_password_set(&self, user_id: &str) -> Result<(), AccountError> {
        self.tokens
            .revoke_user(user_id)
            .await
            .map_err(|e| unavailable("revocation", &e))?;
        self.events.emit(AuthEvent::TokenRevoked {
            user_id: user_id.to_owned(),
            jti: None,
        });
        self.end_sessions(user_id).await.map_err(|error| {
            tracing::warn!(%error, "the sessions could not be ended");
            AccountError::Unavailable
        })?;
        self.one_time
            .revoke_user(user_id, TokenPurpose::PasswordReset)
            .await
            .map_err(store)?;
        self.events.emit(AuthEvent::PasswordChanged {
            user_id: user_id.to_owned(),
        });
        Ok(())
    }

    fn check_policy(
        &self,
        password: &str,
        context: &PasswordContext<'_>,
    ) -> Result<(), AccountError> {
        let result = match &self.policy {
            Some(policy) => policy.validate(password, context),
            None => PasswordPolicy::new(PasswordConfig::default())
                .map_err(|e| unavailable("password policy", &e))?
                .validate(password, context),
        };
        result.map_err(AccountError::WeakPassword)
    }

    /// Refuses `new` if it matches the current hash or one of the last
    /// `password_history` ones (each verified: hashes are salted). A hash
    /// that cannot be verified is skipped.
    async fn check_history(
        &self,
        new: &str,
        current: Option<&str>,
        previous: &[String],
    ) -> Result<(), AccountError> {
        let recent = current.into_iter().chain(
            previous
                .iter()
                .map(String::as_str)
                .take(self.password_history),
        );
        for hash in recent {
            match self.hasher.verify(new, hash).await {
                Ok(Verification::Match { .. }) => return Err(AccountError::PasswordReused),
                Ok(Verification::NoMatch) => {}
                Err(error) if matches!(error, crate::error::PasswordError::WorkerUnavailable) => {
                    return Err(unavailable("hasher", &error));
                }
                Err(error) => {
                    tracing::warn!(%error, "a password history entry cannot be verified");
                }
            }
        }
        Ok(())
    }

    async fn active_user_by_email(&self, email: &str) -> Result<Option<User>, AccountError> {
        let email = normalize_email(email);
        if email.is_empty() || email.len() > MAX_EMAIL_LEN {
            return Ok(None);
        }
        let user = self.users.user_by_email(&email).await.map_err(store)?;
        Ok(user.filter(|u| u.active))
    }

    /// Stores the digest of a fresh token for `user` and mails the token.
    async fn send_token(&self, user: &User, purpose: TokenPurpose) -> Result<(), AccountError> {
        let (ttl, link, subject) = match purpose {
            TokenPurpose::PasswordReset => (
                self.accounts.reset_ttl,
                &self.accounts.reset_link,
                "Reset your password",
            ),
            TokenPurpose::EmailVerification => (
                self.accounts.verification_ttl,
                &self.accounts.verification_link,
                "Verify your e-mail address",
            ),
        };
        let (token, digest) = new_token().map_err(store)?;
        let now = self.clock.unix_seconds();
        let record = OneTimeToken {
            digest,
            purpose,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.saturating_add(ttl.as_secs()),
        };
        self.one_time.insert(&record).await.map_err(store)?;
        let target = link
            .as_ref()
            .map_or_else(|| token.clone(), |l| l.replace("{token}", &token));
        let minutes = ttl.as_secs() / 60;
        let body = match purpose {
            TokenPurpose::PasswordReset => format!(
                "Someone asked to reset the password of this account. If it was you, use:\n\n\
                 {target}\n\nIt works once, for {minutes} minutes. If it was not you, ignore this mail."
            ),
            TokenPurpose::EmailVerification => format!(
                "Confirm your e-mail address with:\n\n{target}\n\nIt works once, for {minutes} minutes."
            ),
        };
        let mail = Mail {
            to: user.email.clone(),
            subject: subject.to_owned(),
            body,
            purpose,
            token,
        };
        if let Err(error) = self.mailer.send(mail).await {
            tracing::error!(%error, %purpose, user_id = %user.id, "a mail could not be sent");
        }
        Ok(())
    }
}
