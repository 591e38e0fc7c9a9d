//! The cookie backend: signed session cookies and CSRF protection.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, Method, header};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{NewSession, SessionError};
use crate::environment::Environment;

/// The request header that carries the CSRF token on unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The shortest cookie signing key accepted, in bytes.
pub const MIN_COOKIE_KEY_LEN: usize = 32;
const MAC_B64_LEN: usize = 43;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations (the default).
    #[default]
    Lax,
    /// Sent on same-site requests only.
    Strict,
}

impl SameSite {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
        }
    }
}

/// How session cookies are written.
///
/// The default is the safe one: a `__Host-` cookie (which browsers accept
/// only with `Secure`, `Path=/` and no `Domain`), `HttpOnly`,
/// `SameSite=Lax`, lasting as long as the session's absolute timeout.
/// `HttpOnly`, `Path=/` and the absence of `Domain` are not configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// The session cookie's name (default `__Host-lexigram-session`).
    pub name: String,
    /// The CSRF cookie's name (default `__Host-lexigram-csrf`); readable by
    /// the page's scripts, which copy it into the `X-CSRF-Token` header.
    pub csrf_name: String,
    /// The `Secure` attribute (default `true`). `false` is accepted only in
    /// [`Environment::Development`]: see
    /// [`plain_http_development`](Self::plain_http_development).
    pub secure: bool,
    /// The `SameSite` attribute (default `Lax`).
    pub same_site: SameSite,
    /// `Max-Age` in seconds; `None` for a browser-session cookie. Default:
    /// the session manager's absolute timeout (12 hours).
    pub max_age: Option<u64>,
    /// Origins (`https://app.example.com`) allowed to make unsafe requests
    /// besides the request's own host; none by default.
    pub allowed_origins: Vec<String>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "__Host-lexigram-session".to_owned(),
            csrf_name: "__Host-lexigram-csrf".to_owned(),
            secure: true,
            same_site: SameSite::Lax,
            max_age: Some(super::DEFAULT_ABSOLUTE_TIMEOUT.as_secs()),
            allowed_origins: Vec::new(),
        }
    }
}

impl CookieConfig {
    /// For local development over plain `http://localhost`: the cookies
    /// lose `Secure`, and with it the `__Host-` prefix (browsers refuse a
    /// `__Host-` cookie without `Secure`), becoming `lexigram-session` and
    /// `lexigram-csrf`. [`SessionCookies::new`] accepts this only when
    /// `LEX_ENV=development`.
    #[must_use]
    pub fn plain_http_development() -> Self {
        Self {
            name: "lexigram-session".to_owned(),
            csrf_name: "lexigram-csrf".to_owned(),
            secure: false,
            ..Self::default()
        }
    }
}

/// Why an unsafe cookie-authenticated request was refused (for logs; the
/// client sees the generic 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsrfPolicy {
    /// `Sec-Fetch-Site` is `cross-site` or `same-site`.
    CrossSiteFetch,
    /// `Origin` is not the request's host nor an allowed origin.
    ForeignOrigin,
    /// The `X-CSRF-Token` header is missing or does not match the session.
    TokenMismatch,
}

impl fmt::Display for CsrfPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CrossSiteFetch => "cross-site request (Sec-Fetch-Site)",
            Self::ForeignOrigin => "foreign Origin",
            Self::TokenMismatch => "missing or wrong CSRF token",
        })
    }
}

/// Writes and reads signed session cookies, and checks CSRF.
///
/// The cookie's value is the session token followed by an HMAC-SHA256 of
/// it under the cookie key, so a cookie the server did not write is
/// refused before any store look-up. The CSRF token is an HMAC of the
/// session's public id under the same key (a signed double-submit token):
/// the server stores nothing for it, and a cookie planted by a sibling
/// subdomain cannot forge it.
///
/// ```
/// use std::sync::Arc;
/// use lexigram_auth::Principal;
/// use lexigram_auth::session::{
///     ClientInfo, CookieConfig, MemorySessionStore, SessionConfig, SessionCookies, SessionManager,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::error::SessionError> {
/// let sessions = SessionManager::new(Arc::new(MemorySessionStore::new()), SessionConfig::default())?;
/// let cookies = SessionCookies::new(b"a-32-byte-or-longer-cookie-key!!", CookieConfig::default())?;
/// let login = sessions.create(&Principal::new("alice"), &ClientInfo::default()).await?;
/// let [session_cookie, csrf_cookie] = cookies.set_cookies(&login)?;
/// let text = session_cookie.to_str().unwrap();
/// assert!(text.starts_with("__Host-lexigram-session="));
/// assert!(text.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=43200"));
/// assert!(!csrf_cookie.to_str().unwrap().contains("HttpOnly"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SessionCookies {
    config: CookieConfig,
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookies")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SessionCookies {
    /// Cookies signed with `key` (at least 32 bytes), as `config` says, in
    /// the environment named by `LEX_ENV`.
    ///
    /// # Errors
    /// [`SessionError::Config`] for a short key, a cookie name that is not a
    /// valid token, a `__Host-` name without `Secure`, or `secure: false`
    /// outside development (or with an unreadable `LEX_ENV`).
    pub fn new(key: impl AsRef<[u8]>, config: CookieConfig) -> Result<Self, SessionError> {
        let environment = Environment::from_env()
            .map_err(|_| SessionError::Config("LEX_ENV names no environment"))?;
        Self::new_in(key, config, environment)
    }

    /// As [`new`](Self::new), in `environment`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn new_in(
        key: impl AsRef<[u8]>,
        config: CookieConfig,
        environment: Environment,
    ) -> Result<Self, SessionError> {
        let key = key.as_ref();
        if key.len() < MIN_COOKIE_KEY_LEN {
            return Err(SessionError::Config(
                "the cookie key must be at least 32 bytes",
            ));
        }
        for name in [&config.name, &config.csrf_name] {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(SessionError::Config(
                    "a cookie name must be letters, digits, '-', '_' or '.'",
                ));
            }
            if name.starts_with("__Host-") && !config.secure {
                return Err(SessionError::Config(
                    "a __Host- cookie must be Secure (browsers drop it otherwise)",
                ));
            }
        }
        if config.name == config.csrf_name {
            return Err(SessionError::Config(
                "the session and CSRF cookies need different names",
            ));
        }
        if !config.secure && environment != Environment::Development {
            return Err(SessionError::Config(
                "cookies without Secure are only for LEX_ENV=development",
            ));
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map_err(|_| SessionError::Config("the cookie key is unusable"))?;
        Ok(Self { config, mac })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &CookieConfig {
        &self.config
    }

    fn sign(&self, domain: &[u8], value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(value);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn attributes(&self, http_only: bool, max_age: Option<u64>) -> String {
        let mut out = String::from("; Path=/");
        if self.config.secure {
            out.push_str("; Secure");
        }
        if http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str("; SameSite=");
        out.push_str(self.config.same_site.as_str());
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out
    }

    /// The CSRF token of the session whose public id is `session_id`.
    #[must_use]
    pub fn csrf_token(&self, session_id: &str) -> String {
        self.sign(b"csrf\0", session_id.as_bytes())
    }

    /// The two `Set-Cookie` values for a new (or rotated) session: the
    /// signed, `HttpOnly` session cookie and the script-readable CSRF
    /// cookie.
    ///
    /// # Errors
    /// [`SessionError::Malformed`] if the token cannot be a header value
    /// (never for tokens of this library).
    pub fn set_cookies(&self, session: &NewSession) -> Result<[HeaderValue; 2], SessionError> {
        let token = session.token.expose();
        let signed = format!(
            "{}={token}.{}{}",
            self.config.name,
            self.sign(b"session\0", token.as_bytes()),
            self.attributes(true, self.config.max_age)
        );
        let csrf = format!(
            "{}={}{}",
            self.config.csrf_name,
            self.csrf_token(session.session.id()),
            self.attributes(false, self.config.max_age)
        );
        let signed = zeroize::Zeroizing::new(signed);
        Ok([
            HeaderValue::from_str(&signed).map_err(|_| SessionError::Malformed)?,
            HeaderValue::from_str(&csrf).map_err(|_| SessionError::Malformed)?,
        ])
    }

    /// The two `Set-Cookie` values that delete both cookies (logout): empty
    /// values with the same attributes and `Max-Age=0`.
    #[must_use]
    pub fn clear_cookies(&self) -> [HeaderValue; 2] {
        let clear = |name: &str, http_only: bool| {
            let text = format!("{name}={}", self.attributes(http_only, Some(0)));
            HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
        };
        [
            clear(&self.config.name, true),
            clear(&self.config.csrf_name, false),
        ]
    }

    /// The session token of a request's session cookie, its signature
    /// checked; `None` without the cookie.
    ///
    /// # Errors
    /// [`SessionError::Malformed`] for a wrong signature or shape, or when
    /// the cookie appears more than once (a cookie planted alongside the
    /// real one).
    pub fn session_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, SessionError> {
        let mut found = None;
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else {
                continue;
            };
            for pair in text.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name != self.config.name {
                    continue;
                }
                if found.is_some() {
                    return Err(SessionError::Malformed);
                }
                found = Some(value.trim_matches('"'));
            }
        }
        let Some(value) = found else {
            return Ok(None);
        };
        let (token, mac) = value.rsplit_once('.').ok_or(SessionError::Malformed)?;
        if mac.len() != MAC_B64_LEN || token.len() > super::MAX_TOKEN_LEN {
            return Err(SessionError::Malformed);
        }
        let mut tag = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(mac, &mut tag) {
            Ok(32) => {}
            _ => return Err(SessionError::Malformed),
        }
        let mut check = self.mac.clone();
        check.update(b"session\0");
        check.update(token.as_bytes());
        // Constant time.
        check
            .verify_slice(&tag)
            .map_err(|_| SessionError::Malformed)?;
        Ok(Some(token))
    }

    /// Checks a cookie-authenticated request against CSRF. Safe methods
    /// (GET, HEAD, OPTIONS, TRACE) pass. An unsafe one must come from the
    /// same origin (`Sec-Fetch-Site` of `same-origin` or `none` when sent;
    /// otherwise an `Origin`, when sent, equal to the request's host or an
    /// allowed origin) **and** carry the session's CSRF token in
    /// `X-CSRF-Token`.
    ///
    /// # Errors
    /// The [`CsrfPolicy`] rule that refused the request.
    pub fn check_csrf(
        &self,
        method: &Method,
        headers: &HeaderMap,
        session_id: &str,
    ) -> Result<(), CsrfPolicy> {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(site) = text("sec-fetch-site") {
            if !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none")) {
                return Err(CsrfPolicy::CrossSiteFetch);
            }
        } else if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().map_err(|_| CsrfPolicy::ForeignOrigin)?;
            if !self.origin_allowed(origin, text("host")) {
                return Err(CsrfPolicy::ForeignOrigin);
            }
        }
        let presented = text(CSRF_HEADER).ok_or(CsrfPolicy::TokenMismatch)?;
        let expected = self.csrf_token(session_id);
        if bool::from(expected.as_bytes().ct_eq(presented.trim().as_bytes())) {
            Ok(())
        } else {
            Err(CsrfPolicy::TokenMismatch)
        }
    }

    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        if self
            .config
            .allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        let Some(host) = host else {
            return false;
        };
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false; // "null" and other opaque origins
        };
        let scheme_ok = scheme.eq_ignore_ascii_case("https")
            || (!self.config.secure && scheme.eq_ignore_ascii_case("http"));
        scheme_ok && authority.eq_ignore_ascii_case(host)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{ClientInfo, MemorySessionStore, SessionConfig, SessionManager};
    use super::*;
    use crate::Principal;

    const KEY: &[u8] = b"a-32-byte-or-longer-cookie-key!!";

    fn cookies() -> SessionCookies {
        SessionCookies::new_in(KEY, CookieConfig::default(), Environment::Production).unwrap()
    }

    async fn login() -> NewSession {
        let m = SessionManager::new(
            Arc::new(MemorySessionStore::new()),
            SessionConfig::default(),
        )
        .unwrap();
        m.create(&Principal::new("alice"), &ClientInfo::default())
            .await
            .unwrap()
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn configuration_is_checked() {
        let short =
            SessionCookies::new_in(b"short", CookieConfig::default(), Environment::Production);
        assert!(matches!(short, Err(SessionError::Config(_))));
        let plain = CookieConfig::plain_http_development();
        for env in [
            Environment::Production,
            Environment::Staging,
            Environment::Test,
        ] {
            assert!(SessionCookies::new_in(KEY, plain.clone(), env).is_err());
        }
        assert!(SessionCookies::new_in(KEY, plain, Environment::Development).is_ok());
        let host_without_secure = CookieConfig {
            secure: false,
            ..CookieConfig::default()
        };
        assert!(
            SessionCookies::new_in(KEY, host_without_secure, Environment::Development).is_err()
        );
        let bad_name = CookieConfig {
            name: "a b".to_owned(),
            ..CookieConfig::default()
        };
        assert!(SessionCookies::new_in(KEY, bad_name, Environment::Production).is_err());
    }

    #[tokio::test]
    async fn signed_cookies_round_trip_and_forgeries_are_refused() {
        let c = cookies();
        let s = login().await;
        let [set, _] = c.set_cookies(&s).unwrap();
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let headers = with_cookie(&pair);
        let token = c.session_token(&headers).unwrap().unwrap();
        assert_eq!(token, s.token.expose());
        // Other cookies around it are fine.
        let mixed = format!("theme=dark; {pair}; lang=en");
        assert_eq!(
            c.session_token(&with_cookie(&mixed)).unwrap().unwrap(),
            token
        );
        // The bare token (no signature), a flipped signature, another key.
        let bare = format!("__Host-lexigram-session={}", s.token.expose());
        assert!(c.session_token(&with_cookie(&bare)).is_err());
        let mut flipped = pair.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(
            c.session_token(&with_cookie(&String::from_utf8(flipped).unwrap()))
                .is_err()
        );
        let other = SessionCookies::new_in(
            b"another-32-byte-or-longer-key!!!",
            CookieConfig::default(),
            Environment::Production,
        )
        .unwrap();
        assert!(other.session_token(&with_cookie(&pair)).is_err());
        // Two session cookies: refused (cookie tossing).
        let twice = format!("{pair}; {pair}");
        assert!(c.session_token(&with_cookie(&twice)).is_err());
        assert_eq!(c.session_token(&HeaderMap::new()).unwrap(), None);
    }

    #[tokio::test]
    async fn csrf_rules() {
        let c = cookies();
        let s = login().await;
        let id = s.session.id();
        let token = c.csrf_token(id);
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(*name, HeaderValue::from_str(value).unwrap());
            }
            h
        };
        // Safe methods pass with nothing.
        assert!(c.check_csrf(&Method::GET, &HeaderMap::new(), id).is_ok());
        // Unsafe: the token is always needed.
        assert_eq!(
            c.check_csrf(&Method::POST, &HeaderMap::new(), id),
            Err(CsrfPolicy::TokenMismatch)
        );
        let good = headers(&[
            ("sec-fetch-site", "same-origin"),
            (CSRF_HEADER, token.as_str()),
        ]);
        assert!(c.check_csrf(&Method::POST, &good, id).is_ok());
        assert!(c.check_csrf(&Method::DELETE, &good, id).is_ok());
        // Another session's token does not fit.
        let other = c.csrf_token("another-session");
        let wrong = headers(&[
            ("sec-fetch-site", "same-origin"),
            (CSRF_HEADER, other.as_str()),
        ]);
        assert_eq!(
            c.check_csrf(&Method::POST, &wrong, id),
            Err(CsrfPolicy::TokenMismatch)
        );
        // Cross-site and same-site (a sibling subdomain) fetches are refused,
        // even with the right token.
        for site in ["cross-site", "same-site"] {
            let h = headers(&[("sec-fetch-site", site), (CSRF_HEADER, token.as_str())]);
            assert_eq!(
                c.check_csrf(&Method::POST, &h, id),
                Err(CsrfPolicy::CrossSiteFetch)
            );
        }
        // Without Sec-Fetch-Site, Origin must be the host (over https).
        let same = headers(&[
            ("origin", "https://app.example.com"),
            ("host", "app.example.com"),
            (CSRF_HEADER, token.as_str()),
        ]);
        assert!(c.check_csrf(&Method::PUT, &same, id).is_ok());
        for origin in [
            "https://evil.example",
            "http://app.example.com",
            "null",
            "https://app.example.com.evil.example",
        ] {
            let h = headers(&[
                ("origin", origin),
                ("host", "app.example.com"),
                (CSRF_HEADER, token.as_str()),
            ]);
            assert_eq!(
                c.check_csrf(&Method::POST, &h, id),
                Err(CsrfPolicy::ForeignOrigin),
                "{origin}"
            );
        }
        // An allowed origin.
        let allowed = SessionCookies::new_in(
            KEY,
            CookieConfig {
                allowed_origins: vec!["https://admin.example.com".to_owned()],
                ..CookieConfig::default()
            },
            Environment::Production,
        )
        .unwrap();
        let h = headers(&[
            ("origin", "https://admin.example.com"),
            ("host", "api.example.com"),
            (CSRF_HEADER, token.as_str()),
        ]);
        assert!(allowed.check_csrf(&Method::POST, &h, id).is_ok());
    }

    #[tokio::test]
    async fn clearing_cookies_keeps_the_attributes_with_max_age_zero() {
        let c = cookies();
        let [session, csrf] = c.clear_cookies();
        assert_eq!(
            session.to_str().unwrap(),
            "__Host-lexigram-session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        );
        assert_eq!(
            csrf.to_str().unwrap(),
            "__Host-lexigram-csrf=; Path=/; Secure; SameSite=Lax; Max-Age=0"
        );
    }
}
