//! Sessions for request handling: [`SessionAuth`], the pair of a manager
//! and its cookies that the guards and the login routes use.

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Method};

use super::{ClientInfo, CsrfPolicy, DevicePolicy, NewSession, SessionCookies, SessionManager};
use crate::Principal;
use crate::error::SessionError;

/// Why a cookie-authenticated request was refused.
#[derive(Debug)]
pub enum SessionRejection {
    /// No session cookie: 401 unless another credential applies.
    Missing,
    /// A session cookie that is forged, malformed, expired or revoked: 401.
    Invalid(SessionError),
    /// An unsafe request that failed the CSRF check: 403.
    Csrf(CsrfPolicy),
    /// The session store failed: 503.
    Unavailable(SessionError),
}

impl From<SessionError> for SessionRejection {
    fn from(error: SessionError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error)
        } else {
            Self::Invalid(error)
        }
    }
}

/// A [`SessionManager`] and the [`SessionCookies`] that carry its tokens:
/// give it to [`AuthModuleBuilder::sessions`](crate::AuthModuleBuilder::sessions)
/// so the guards accept session cookies, and to
/// [`LoginMode::Cookies`](crate::authn::LoginMode::Cookies) so the login
/// route answers with them.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    manager: SessionManager,
    cookies: SessionCookies,
}

impl SessionAuth {
    /// Sessions of `manager`, carried by `cookies`.
    #[must_use]
    pub fn new(manager: SessionManager, cookies: SessionCookies) -> Self {
        Self { manager, cookies }
    }

    /// The manager.
    #[must_use]
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }

    /// The cookies.
    #[must_use]
    pub fn cookies(&self) -> &SessionCookies {
        &self.cookies
    }

    /// The token of the request's session cookie, if any (signature
    /// checked).
    ///
    /// # Errors
    /// [`SessionError::Malformed`] for a forged or doubled cookie.
    pub fn token<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h str>, SessionError> {
        self.cookies.session_token(headers)
    }

    /// Authenticates a request by its session cookie: signature, a live
    /// session (activity recorded), the device when enforced, and for
    /// unsafe methods the CSRF rules of [`SessionCookies::check_csrf`].
    /// The principal carries the session's public id
    /// ([`session_id`](Principal::session_id)).
    ///
    /// # Errors
    /// See [`SessionRejection`].
    pub async fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
    ) -> Result<Principal, SessionRejection> {
        let token = self
            .cookies
            .session_token(headers)?
            .ok_or(SessionRejection::Missing)?;
        let client = self.client(headers, ip);
        let principal = self.manager.validate_principal(token, &client).await?;
        self.cookies
            .check_csrf(method, headers, principal.session_id().unwrap_or_default())
            .map_err(SessionRejection::Csrf)?;
        Ok(principal)
    }

    fn client(&self, headers: &HeaderMap, ip: Option<IpAddr>) -> ClientInfo {
        // The client's attributes matter only when the device is enforced.
        if self.manager.config().device_policy == DevicePolicy::Enforce {
            ClientInfo::from_headers(headers, ip)
        } else {
            ClientInfo::default()
        }
    }

    /// Starts a session for `principal` (a login) and returns it with its
    /// two `Set-Cookie` values. A session the request already carried is
    /// ended first: a login never keeps or adopts an earlier id.
    ///
    /// # Errors
    /// As [`SessionManager::create`].
    pub async fn login(
        &self,
        principal: &Principal,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
    ) -> Result<(NewSession, [HeaderValue; 2]), SessionError> {
        if let Ok(Some(old)) = self.cookies.session_token(headers) {
            match self.manager.revoke(old).await {
                Ok(_) | Err(SessionError::Malformed) => {}
                Err(error) => return Err(error),
            }
        }
        let client = ClientInfo::from_headers(headers, ip);
        let session = self.manager.create(principal, &client).await?;
        let cookies = self.cookies.set_cookies(&session)?;
        Ok((session, cookies))
    }
}
