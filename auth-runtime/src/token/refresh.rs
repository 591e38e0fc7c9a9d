//! Token pairs, refresh rotation with reuse detection, and revocation.
//!
//! A refresh token belongs to a *family* (`fam`) started at login. Each use
//! is single and atomic ([`RevocationStore::consume_refresh`]) and returns a
//! new pair in the same family; presenting a used refresh token again revokes
//! the whole family and answers [`TokenError::RefreshReused`], so a stolen
//! token is good for at most one use, by either party. The access tokens of
//! a pair carry the family too, so that a revoked family (reuse, or a logout
//! with either token) refuses them as well. The new access token
//! carries the user's *current* roles, read through [`UserLookup`]: for a
//! login within a tenant (whose refresh tokens carry the `tenant` claim),
//! the roles the user holds in that tenant now.

use std::fmt;
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::{JwtTokenManager, VerifiedToken, random_id, unix_time};
use crate::Principal;
use crate::error::TokenError;
use crate::revocation::{RefreshUse, Revocation};
use crate::store::{StoreError, StoreFuture};

/// Reads a user's current roles and permissions when a refresh token is used.
///
/// `Ok(None)` means the user no longer exists (or may no longer sign in):
/// the refresh is refused.
///
/// Refresh tokens of a login within a tenant
/// ([`create_tenant_token_pair`](JwtTokenManager::create_tenant_token_pair))
/// are answered by [`current_principal_in`](Self::current_principal_in),
/// others by [`current_principal`](Self::current_principal). Every
/// [`UserStore`](crate::authn::UserStore) is a `UserLookup` answering both.
pub trait UserLookup: Send + Sync {
    /// The principal `user_id` is now.
    fn current_principal<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Principal>>;

    /// The principal `user_id` is now when acting in `tenant`: its tenant is
    /// `tenant` and its roles those the user holds there; `None` when the
    /// user is gone, may no longer sign in or is no longer a member of
    /// `tenant` (the refresh is then refused as revoked).
    ///
    /// The default answers `None`: a lookup that knows nothing of tenants
    /// refuses to refresh a tenant's tokens rather than hand out the user's
    /// global roles in it.
    fn current_principal_in<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
    ) -> StoreFuture<'a, Option<Principal>> {
        let _ = (user_id, tenant);
        Box::pin(async { Ok(None) })
    }
}

/// An access token and a refresh token, as returned by login and refresh.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AuthToken {
    /// The bearer token for API calls.
    pub access_token: String,
    /// The single-use token that obtains the next pair.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthToken")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

fn unavailable(error: &StoreError) -> TokenError {
    tracing::warn!(%error, "the revocation store cannot answer; refusing the token");
    TokenError::Unavailable
}

impl JwtTokenManager {
    /// Issues an access token for `principal` and a refresh token starting a
    /// new family (the login step).
    ///
    /// # Errors
    /// As [`sign_access`](Self::sign_access).
    pub async fn create_token_pair(&self, principal: &Principal) -> Result<AuthToken, TokenError> {
        self.pair_for(principal, None)
    }

    /// Issues a token pair for a login within the principal's tenant: the
    /// refresh token carries the tenant, and [`refresh`](Self::refresh)
    /// then re-reads the user's roles *in that tenant* through
    /// [`UserLookup::current_principal_in`] (a membership ended since
    /// refuses the refresh).
    ///
    /// [`create_token_pair`](Self::create_token_pair) does not carry the
    /// tenant: its refreshes read the user's current principal, home tenant
    /// included, through [`UserLookup::current_principal`].
    ///
    /// # Errors
    /// [`TokenError::InvalidClaim`]`("tenant")` when the principal has no
    /// tenant; otherwise as [`sign_access`](Self::sign_access).
    pub async fn create_tenant_token_pair(
        &self,
        principal: &Principal,
    ) -> Result<AuthToken, TokenError> {
        match principal.tenant() {
            Some(tenant) if !tenant.is_empty() => self.pair_for(principal, Some(tenant)),
            _ => Err(TokenError::InvalidClaim("tenant")),
        }
    }

    fn pair_for(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
    ) -> Result<AuthToken, TokenError> {
        // One family for the login: its access tokens carry it too, so that
        // revoking it (logout, reuse) refuses them as well.
        let family = random_id().ok_or(TokenError::Signing)?;
        let access_token = self.sign_access_in(principal, Some(&family))?;
        let auth_time = principal
            .auth_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        let refresh_token = self.sign_refresh_carrying(
            principal.subject(),
            Some(&family),
            tenant,
            auth_time,
            principal.amr(),
        )?;
        Ok(self.pair(access_token, refresh_token))
    }

    fn pair(&self, access_token: String, refresh_token: String) -> AuthToken {
        AuthToken {
            access_token,
            refresh_token,
            expires_in: self.access_ttl().as_secs(),
            token_type: "Bearer",
        }
    }

    /// Uses a refresh token once: returns a new pair in the same family whose
    /// access token carries the user's current roles; for a refresh token
    /// carrying a tenant, the roles the user holds in that tenant now
    /// ([`UserLookup::current_principal_in`]), and the new pair carries the
    /// tenant on.
    ///
    /// # Errors
    /// - [`TokenError::RefreshReused`] when the token was already used: the
    ///   whole family is revoked, the legitimate holder's newer token included;
    /// - [`TokenError::Revoked`] when the token, its family or its user was
    ///   revoked, or the user no longer exists (or is no longer a member of
    ///   the token's tenant);
    /// - [`TokenError::InvalidClaim`] when the lookup answers for another
    ///   subject or another tenant than the token's;
    /// - [`TokenError::Unavailable`] when the store or the user lookup cannot
    ///   answer (the token is then not consumed if the failure came first);
    /// - any verification error of [`verify_refresh`](Self::verify_refresh).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        users: &dyn UserLookup,
    ) -> Result<AuthToken, TokenError> {
        let verified = self.verify_refresh(refresh_token)?;
        let family = verified
            .family
            .clone()
            .ok_or(TokenError::MissingClaim("fam"))?;
        self.check_revocation(&verified).await?;
        // Look the user up before consuming, so that a lookup failure leaves
        // the refresh token usable for a retry.
        let tenant = verified.tenant.as_deref();
        let principal = match tenant {
            Some(tenant) => users.current_principal_in(&verified.user_id, tenant),
            None => users.current_principal(&verified.user_id),
        }
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or(TokenError::Revoked)?;
        if principal.subject() != verified.user_id {
            return Err(TokenError::InvalidClaim("sub"));
        }
        if tenant.is_some() && principal.tenant() != tenant {
            return Err(TokenError::InvalidClaim("tenant"));
        }
        let now = self.clock().unix_seconds();
        let keep_until = now
            .saturating_add(self.refresh_ttl().as_secs())
            .saturating_add(self.leeway().as_secs());
        let used = self
            .revocation
            .consume_refresh(&family, &verified.jti, keep_until, now)
            .await
            .map_err(|e| unavailable(&e))?;
        match used {
            RefreshUse::First => {}
            RefreshUse::Reused => {
                tracing::warn!(
                    subject = %verified.user_id,
                    "refresh token reused: its family is revoked"
                );
                return Err(TokenError::RefreshReused);
            }
            RefreshUse::FamilyRevoked => return Err(TokenError::Revoked),
        }
        // The user's current roles, with the original login's time and
        // methods: a refresh is not a new authentication.
        let method = principal.auth_method();
        let principal = principal
            .with_authentication(method, verified.auth_time.map(unix_time))
            .with_amr(verified.amr.iter().cloned());
        let access_token = self.sign_access_in(&principal, Some(&family))?;
        let refresh_token = self.sign_refresh_carrying(
            &verified.user_id,
            Some(&family),
            tenant,
            verified.auth_time,
            &verified.amr,
        )?;
        Ok(self.pair(access_token, refresh_token))
    }

    /// Revokes one token (logout): the token by its `jti`, and the family it
    /// belongs to: a refresh token's, or an access token's issued with a
    /// refresh token (by [`create_token_pair`](Self::create_token_pair) or
    /// [`refresh`](Self::refresh)), so that a logout with either token of a
    /// login ends the login (its refresh token no longer refreshes, and its
    /// other access tokens are refused). An access token signed alone
    /// ([`sign_access`](Self::sign_access)) has no family: only it is
    /// revoked. The records live as long as the tokens could.
    ///
    /// # Errors
    /// Any verification error (an expired token needs no revocation), or
    /// [`TokenError::Unavailable`] when the store cannot record it.
    pub async fn revoke(&self, token: &str) -> Result<(), TokenError> {
        let verified = match self.verify_access(token) {
            Err(TokenError::WrongType) => self.verify_refresh(token)?,
            other => other?,
        };
        let now = self.clock().unix_seconds();
        let until = verified.exp.saturating_add(self.leeway().as_secs());
        self.revocation
            .revoke_jti(&verified.jti, until, now)
            .await
            .map_err(|e| unavailable(&e))?;
        if let Some(family) = &verified.family {
            let keep_until = now
                .saturating_add(self.refresh_ttl().as_secs())
                .saturating_add(self.leeway().as_secs());
            self.revocation
                .revoke_family(family, keep_until, now)
                .await
                .map_err(|e| unavailable(&e))?;
        }
        Ok(())
    }

    /// Revokes every token of `user_id` issued up to now ("log out
    /// everywhere"): tokens whose `iat` is at or before this second are
    /// refused, tokens issued later are not. Because `iat` has one-second
    /// resolution, a token issued in the same second is refused too.
    ///
    /// # Errors
    /// [`TokenError::Unavailable`] when the store cannot record it.
    pub async fn revoke_user(&self, user_id: &str) -> Result<(), TokenError> {
        let now = self.clock().unix_seconds();
        let keep_until = now
            .saturating_add(self.access_ttl().max(self.refresh_ttl()).as_secs())
            .saturating_add(self.leeway().as_secs());
        self.revocation
            .revoke_user_before(user_id, now, keep_until, now)
            .await
            .map_err(|e| unavailable(&e))
    }

    /// Fails unless the store says the token is live; a store failure fails closed.
    pub(super) async fn check_revocation(&self, token: &VerifiedToken) -> Result<(), TokenError> {
        let now = self.clock().unix_seconds();
        let answer = self
            .revocation
            .check(
                &token.jti,
                &token.user_id,
                token.iat,
                token.family.as_deref(),
                now,
            )
            .await
            .map_err(|e| unavailable(&e))?;
        match answer {
            Revocation::Live => Ok(()),
            Revocation::Revoked(by) => {
                tracing::debug!(?by, "refused a revoked token");
                Err(TokenError::Revoked)
            }
        }
    }
}
