//! Ready-made JSON routes over an [`AuthenticationService`]:
//! [`auth_routes`].

use std::sync::Arc;

use ::axum::Router;
use ::axum::body::Bytes;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use http::header::SET_COOKIE;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{AuthenticationService, NewRegistration};
use crate::error::{AccountError, TokenError};
use crate::session::{SessionAuth, SessionRejection};
use crate::token::VerifiedToken;

/// A router of JSON endpoints for login, tokens and the account flows, over
/// `service`; nest or merge it into an application's router, whatever its
/// state `S` (an [`AuthModule`](crate::AuthModule), say): the service is
/// captured by the handlers, so the routes need nothing from `S`.
///
/// | Route | Body | Success | Refusals |
/// |---|---|---|---|
/// | `POST /login` | `{email, password, tenant?}` | 200 [`AuthToken`](crate::token::AuthToken) | 401 `invalid_credentials`, 403 `not_a_member`, 503 |
/// | `POST /refresh` | `{refresh_token}` | 200 `AuthToken` | 401, 503 |
/// | `POST /logout` | `{token}` | 204 | 401, 503 |
/// | `GET /me` | bearer token | 200 `{subject, roles, permissions}` | 401, 503 |
/// | `POST /register` | `{email, name, password}` | 201 `{id}` | 409 `email_taken`, 422, 503 |
/// | `POST /password/change` | bearer token, `{current_password, new_password}` | 204 | 401, 409, 422, 503 |
/// | `POST /password/reset` | `{email}` | 202, always the same body, sent before the address is looked up | 400 (malformed body) |
/// | `POST /password/reset/confirm` | `{token, new_password}` | 204 | 400 `invalid_token`, 409, 422, 503 |
/// | `POST /verify-email` | `{token}` | 204 | 400 `invalid_token`, 503 |
///
/// Every refusal is an RFC 9457 `application/problem+json` body with a
/// stable `code`; a password refused by the policy (422
/// `password_policy`) also lists the broken rules' codes in `violations`.
/// A body that is not the expected JSON answers 400 `invalid_request`.
/// No body ever echoes a password or a token.
///
/// A login body with a `tenant` logs in within that tenant
/// ([`AuthenticationService::authenticate_in`]): the tokens' principal acts
/// in the tenant with the roles the user holds there, and its refreshes
/// keep to that tenant. A user with the right password who is not a member
/// of the tenant gets 403 `not_a_member`; this is only ever said to a
/// caller who proved the password, so it does not reveal membership to
/// anyone else.
///
/// Every failed login answers the same 401 body, whether the user is
/// unknown, the password wrong or the account inactive or locked; a reset
/// request answers the same 202 whether or not the address is registered.
/// Registration, however, answers 409 `email_taken` for an address that is
/// already registered: this reveals that the account exists, as every
/// registration form does (the user must be told to sign in instead).
/// Rate-limit `/register`, `/login` and `/password/reset` (see
/// [`ratelimit`](crate::ratelimit)) to slow down enumeration and guessing.
///
/// A successful password change or reset revokes every token of the user,
/// the caller's own included: the client signs in again. Logins are
/// reported with the client address when the server runs with
/// `into_make_service_with_connect_info::<SocketAddr>()` (the events' `ip`
/// is `None` otherwise). For browser applications, see
/// [`auth_routes_with`] and [`LoginMode::Cookies`].
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use lexigram_auth::authn::{AuthenticationService, MemoryUserStore, auth_routes};
/// use lexigram_auth::password::PasswordHasher;
/// use lexigram_auth::token::JwtTokenManager;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tokens = JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")])?;
/// let service = AuthenticationService::new(
///     Arc::new(MemoryUserStore::new()),
///     PasswordHasher::default(),
///     tokens,
/// );
/// let app: Router = Router::new().nest("/auth", auth_routes(Arc::new(service)));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn auth_routes<S>(service: Arc<AuthenticationService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    auth_routes_with(service, LoginMode::Tokens)
}

/// What the login route answers with.
#[derive(Debug, Clone, Default)]
pub enum LoginMode {
    /// A JSON [`AuthToken`](crate::token::AuthToken) pair (API clients; the
    /// default).
    #[default]
    Tokens,
    /// A session cookie and a CSRF cookie (browser applications), with a
    /// JSON body `{subject, csrf_token}`.
    Cookies(Box<SessionAuth>),
}

/// [`auth_routes`] with the login answer chosen by `mode`.
///
/// With [`LoginMode::Cookies`] the routes that need a signed-in user (`me`,
/// `logout`, `password/change`) authenticate by the session cookie instead
/// of a bearer token, and unsafe ones check CSRF (the `X-CSRF-Token` header
/// must carry the value of the CSRF cookie; a 403 otherwise):
///
/// | Route | Cookie mode |
/// |---|---|
/// | `POST /login` | 200 `{subject, csrf_token}`, `Set-Cookie` for both cookies; a session the request already had is ended (never reused) |
/// | `POST /logout` | 204, the session ended, both cookies overwritten with `Max-Age=0` |
/// | `GET /me` | 200 `{subject, roles, permissions}` of the session |
/// | `POST /password/change` | 200 `{subject, csrf_token}`: every session of the user ends and a new one is set (re-authentication), with a new CSRF token |
/// | `POST /refresh` | absent (sessions are extended by use, up to their absolute timeout) |
///
/// The other routes are the same in both modes.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use lexigram_auth::authn::{AuthenticationService, LoginMode, MemoryUserStore, auth_routes_with};
/// use lexigram_auth::password::PasswordHasher;
/// use lexigram_auth::session::{
///     CookieConfig, MemorySessionStore, SessionAuth, SessionConfig, SessionCookies, SessionManager,
/// };
/// use lexigram_auth::token::JwtTokenManager;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = SessionManager::new(Arc::new(MemorySessionStore::new()), SessionConfig::default())?;
/// let cookies = SessionCookies::new(b"a-32-byte-or-longer-cookie-key!!", CookieConfig::default())?;
/// let tokens = JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")])?;
/// let service = AuthenticationService::new(
///     Arc::new(MemoryUserStore::new()),
///     PasswordHasher::default(),
///     tokens,
/// )
/// .sessions(sessions.clone());
/// let mode = LoginMode::Cookies(Box::new(SessionAuth::new(sessions, cookies)));
/// let app: Router = Router::new().nest("/auth", auth_routes_with(Arc::new(service), mode));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn auth_routes_with<S>(service: Arc<AuthenticationService>, mode: LoginMode) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let common = account_routes(Arc::clone(&service));
    match mode {
        LoginMode::Tokens => token_routes(service).merge(common),
        LoginMode::Cookies(sessions) => cookie_routes(service, *sessions).merge(common),
    }
}

/// The routes that do not depend on the login mode.
fn account_routes<S>(service: Arc<AuthenticationService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let register_svc = Arc::clone(&service);
    let reset_svc = Arc::clone(&service);
    let reset_slots = Arc::new(tokio::sync::Semaphore::new(RESET_TASKS));
    let confirm_svc = Arc::clone(&service);
    let verify_svc = service;
    Router::new()
        .route(
            "/register",
            post(move |body: Bytes| register(Arc::clone(&register_svc), body)),
        )
        .route(
            "/password/reset",
            post(move |body: Bytes| {
                request_reset(Arc::clone(&reset_svc), Arc::clone(&reset_slots), body)
            }),
        )
        .route(
            "/password/reset/confirm",
            post(move |body: Bytes| confirm_reset(Arc::clone(&confirm_svc), body)),
        )
        .route(
            "/verify-email",
            post(move |body: Bytes| verify_email(Arc::clone(&verify_svc), body)),
        )
}

fn token_routes<S>(service: Arc<AuthenticationService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let login_svc = Arc::clone(&service);
    let refresh_svc = Arc::clone(&service);
    let logout_svc = Arc::clone(&service);
    let me_svc = Arc::clone(&service);
    let change_svc = service;
    Router::new()
        .route(
            "/login",
            post(move |parts: Parts, body: Bytes| login(Arc::clone(&login_svc), parts, body)),
        )
        .route(
            "/refresh",
            post(move |body: Bytes| refresh(Arc::clone(&refresh_svc), body)),
        )
        .route(
            "/logout",
            post(move |body: Bytes| logout(Arc::clone(&logout_svc), body)),
        )
        .route(
            "/me",
            get(move |headers: HeaderMap| me(Arc::clone(&me_svc), headers)),
        )
        .route(
            "/password/change",
            post(move |headers: HeaderMap, body: Bytes| {
                change_password(Arc::clone(&change_svc), headers, body)
            }),
        )
}

fn cookie_routes<S>(service: Arc<AuthenticationService>, sessions: SessionAuth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let sessions = Arc::new(sessions);
    let login_svc = Arc::clone(&service);
    let login_sessions = Arc::clone(&sessions);
    let logout_sessions = Arc::clone(&sessions);
    let me_sessions = Arc::clone(&sessions);
    let change_svc = service;
    let change_sessions = sessions;
    Router::new()
        .route(
            "/login",
            post(move |parts: Parts, body: Bytes| {
                cookie_login(
                    Arc::clone(&login_svc),
                    Arc::clone(&login_sessions),
                    parts,
                    body,
                )
            }),
        )
        .route(
            "/logout",
            post(move |parts: Parts| cookie_logout(Arc::clone(&logout_sessions), parts)),
        )
        .route(
            "/me",
            get(move |parts: Parts| cookie_me(Arc::clone(&me_sessions), parts)),
        )
        .route(
            "/password/change",
            post(move |parts: Parts, body: Bytes| {
                cookie_change_password(
                    Arc::clone(&change_svc),
                    Arc::clone(&change_sessions),
                    parts,
                    body,
                )
            }),
        )
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    /// Log in within this tenant.
    #[serde(default)]
    tenant: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct ChangeBody {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
struct ResetBody {
    email: String,
}

#[derive(Deserialize)]
struct ConfirmBody {
    token: String,
    new_password: String,
}

/// The generic detail of every failed login.
const LOGIN_FAILED: &str = "the e-mail address or the password is wrong";

/// The response for a refused login: 503, 403 `not_a_member` (only ever
/// after the right password), or the one generic 401.
fn login_refused(error: crate::error::AuthenticationFailed) -> Response {
    if error.is_unavailable() {
        unavailable()
    } else if error.is_not_a_member() {
        problem(
            StatusCode::FORBIDDEN,
            error.code(),
            "the account is not a member of this tenant",
        )
    } else {
        problem(StatusCode::UNAUTHORIZED, error.code(), LOGIN_FAILED)
    }
}

/// An RFC 9457 problem response.
fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    problem_with(status, code, detail, None)
}

fn problem_with(
    status: StatusCode,
    code: &str,
    detail: &str,
    violations: Option<Vec<&'static str>>,
) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    if let (Some(violations), Some(object)) = (violations, body.as_object_mut()) {
        object.insert("violations".to_owned(), serde_json::json!(violations));
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A JSON success response.
fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "a response could not be serialised");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the response could not be produced",
            )
        }
    }
}

/// A body that is not the expected JSON: 400 `invalid_request`.
struct BadBody;

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is not the expected JSON object",
        )
    }
}

/// Parses the body; the serde error is logged, never echoed (it may quote
/// the input).
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, BadBody> {
    serde_json::from_slice(body).map_err(|error| {
        tracing::debug!(
            line = error.line(),
            column = error.column(),
            "rejected a malformed JSON body"
        );
        BadBody
    })
}

fn unauthorized(invalid_token: bool) -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "valid credentials are required to access this resource",
    );
    let value = if invalid_token {
        "Bearer realm=\"lexigram\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"lexigram\""
    };
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
    response
}

fn unavailable() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "auth_unavailable",
        "authentication is temporarily unavailable",
    )
}

/// A refused token (refresh, logout): 401, or 503 when a store failed.
fn token_refused(error: &TokenError) -> Response {
    if matches!(error, TokenError::Unavailable) {
        return unavailable();
    }
    tracing::debug!(%error, code = error.code(), "refused a token");
    problem(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the token is invalid, expired or revoked",
    )
}

/// The response for a failed account operation.
fn account_refused(error: &AccountError) -> Response {
    if error.is_unavailable() {
        return unavailable();
    }
    let code = error.code();
    match error {
        AccountError::InvalidEmail => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "the e-mail address is invalid",
        ),
        AccountError::InvalidName => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "the name is invalid",
        ),
        AccountError::EmailTaken => problem(
            StatusCode::CONFLICT,
            code,
            "the e-mail address is already registered",
        ),
        AccountError::WeakPassword(violations) => problem_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "the password does not meet the password policy",
            Some(violations.codes().collect()),
        ),
        AccountError::PasswordReused => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "the password was used recently",
        ),
        AccountError::InvalidCredentials => problem(
            StatusCode::UNAUTHORIZED,
            code,
            "the current password is wrong",
        ),
        AccountError::InvalidToken => problem(
            StatusCode::BAD_REQUEST,
            code,
            "the token is invalid or expired",
        ),
        AccountError::ConcurrentChange => problem(
            StatusCode::CONFLICT,
            code,
            "the password was changed concurrently; try again",
        ),
        _ => unavailable(),
    }
}

/// Verifies the request's single bearer token (revocation included).
async fn bearer(
    service: &AuthenticationService,
    headers: &HeaderMap,
) -> Result<VerifiedToken, Response> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(unauthorized(false));
    };
    if values.next().is_some() {
        return Err(unauthorized(true));
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(true));
    };
    match service.tokens().verify_token(token).await {
        Ok(verified) => Ok(verified),
        Err(TokenError::Unavailable) => Err(unavailable()),
        Err(error) => {
            tracing::debug!(%error, code = error.code(), "rejected bearer token");
            Err(unauthorized(true))
        }
    }
}

/// The client address, when the server was started with connect info.
fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<::axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

async fn login(service: Arc<AuthenticationService>, parts: Parts, body: Bytes) -> Response {
    let body: LoginBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let ip = client_ip(&parts);
    let result = match &body.tenant {
        Some(tenant) => {
            service
                .authenticate_in_from(tenant, &body.email, &body.password, ip)
                .await
        }
        None => {
            service
                .authenticate_from(&body.email, &body.password, ip)
                .await
        }
    };
    match result {
        Ok(pair) => json(StatusCode::OK, &pair),
        Err(error) => login_refused(error),
    }
}

async fn refresh(service: Arc<AuthenticationService>, body: Bytes) -> Response {
    let body: RefreshBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match service.refresh_token(&body.refresh_token).await {
        Ok(pair) => json(StatusCode::OK, &pair),
        Err(error) => token_refused(&error),
    }
}

async fn logout(service: Arc<AuthenticationService>, body: Bytes) -> Response {
    let body: TokenBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match service.logout(&body.token).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => token_refused(&error),
    }
}

async fn me(service: Arc<AuthenticationService>, headers: HeaderMap) -> Response {
    match bearer(&service, &headers).await {
        Ok(verified) => json(
            StatusCode::OK,
            &serde_json::json!({
                "subject": verified.user_id,
                "roles": verified.roles,
                "permissions": verified.permissions,
            }),
        ),
        Err(response) => response,
    }
}

async fn register(service: Arc<AuthenticationService>, body: Bytes) -> Response {
    let body: RegisterBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let registration = NewRegistration {
        email: body.email,
        name: body.name,
        password: body.password,
    };
    match service.register(registration).await {
        Ok(user) => json(StatusCode::CREATED, &serde_json::json!({ "id": user.id })),
        Err(error) => account_refused(&error),
    }
}

async fn change_password(
    service: Arc<AuthenticationService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = match bearer(&service, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body: ChangeBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match service
        .change_password(
            &verified.user_id,
            &body.current_password,
            &body.new_password,
        )
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => account_refused(&error),
    }
}

/// How many password resets are started at once (look-up, token, mail);
/// more wait for a slot.
const RESET_TASKS: usize = 16;

/// Answers before anything about the address is known: the look-up, the
/// token and the mail happen in a task of their own, so the reply (and its
/// timing) is the same for a registered address and an unknown one. A store
/// or mailer failure there is logged.
async fn request_reset(
    service: Arc<AuthenticationService>,
    slots: Arc<tokio::sync::Semaphore>,
    body: Bytes,
) -> Response {
    let body: ResetBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    tokio::spawn(async move {
        // The semaphore is never closed.
        let Ok(_slot) = slots.acquire_owned().await else {
            return;
        };
        if let Err(error) = service.request_reset(&body.email).await {
            tracing::error!(%error, "a password reset could not be started");
        }
    });
    json(
        StatusCode::ACCEPTED,
        &serde_json::json!({
            "detail": "if the address is registered, a reset link has been sent to it",
        }),
    )
}

async fn confirm_reset(service: Arc<AuthenticationService>, body: Bytes) -> Response {
    let body: ConfirmBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match service.confirm_reset(&body.token, &body.new_password).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => account_refused(&error),
    }
}

async fn verify_email(service: Arc<AuthenticationService>, body: Bytes) -> Response {
    let body: TokenBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match service.verify_email(&body.token).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => account_refused(&error),
    }
}

fn with_cookies(mut response: Response, cookies: [HeaderValue; 2]) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn forbidden() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "forbidden",
        "you are not allowed to perform this action",
    )
}

/// The response for a refused session cookie.
fn session_refused(sessions: &SessionAuth, rejection: &SessionRejection) -> Response {
    match rejection {
        SessionRejection::Missing => unauthorized(false),
        SessionRejection::Invalid(error) => {
            tracing::debug!(%error, code = error.code(), "rejected session cookie");
            // Tell the browser to drop what it holds.
            with_cookies(unauthorized(true), sessions.cookies().clear_cookies())
        }
        SessionRejection::Csrf(rule) => {
            tracing::info!(%rule, "refused a cookie-authenticated request: CSRF");
            forbidden()
        }
        SessionRejection::Unavailable(error) => {
            tracing::warn!(%error, "the session store cannot answer");
            unavailable()
        }
    }
}

async fn cookie_login(
    service: Arc<AuthenticationService>,
    sessions: Arc<SessionAuth>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let body: LoginBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let ip = client_ip(&parts);
    let result = match &body.tenant {
        Some(tenant) => {
            service
                .login_principal_in(tenant, &body.email, &body.password, ip)
                .await
        }
        None => {
            service
                .login_principal(&body.email, &body.password, ip)
                .await
        }
    };
    let principal = match result {
        Ok(principal) => principal,
        Err(error) => return login_refused(error),
    };
    start_session(&sessions, &principal, &parts.headers, ip).await
}

async fn start_session(
    sessions: &SessionAuth,
    principal: &crate::Principal,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Response {
    match sessions.login(principal, headers, ip).await {
        Ok((session, cookies)) => with_cookies(
            json(
                StatusCode::OK,
                &serde_json::json!({
                    "subject": principal.subject(),
                    "csrf_token": sessions.cookies().csrf_token(session.session.id()),
                }),
            ),
            cookies,
        ),
        Err(crate::error::SessionError::LimitReached) => problem(
            StatusCode::CONFLICT,
            "session_limit",
            "the account has too many active sessions; sign out elsewhere first",
        ),
        Err(error) => {
            tracing::warn!(%error, "no session could be started");
            unavailable()
        }
    }
}

async fn cookie_logout(sessions: Arc<SessionAuth>, parts: Parts) -> Response {
    let ip = client_ip(&parts);
    let principal = match sessions
        .authenticate(&parts.method, &parts.headers, ip)
        .await
    {
        Ok(principal) => principal,
        Err(rejection) => return session_refused(&sessions, &rejection),
    };
    let id = principal.session_id().unwrap_or_default();
    match sessions.manager().revoke_id(principal.subject(), id).await {
        Ok(_) => with_cookies(
            StatusCode::NO_CONTENT.into_response(),
            sessions.cookies().clear_cookies(),
        ),
        Err(error) => {
            tracing::warn!(%error, "the session could not be ended");
            unavailable()
        }
    }
}

async fn cookie_me(sessions: Arc<SessionAuth>, parts: Parts) -> Response {
    match sessions
        .authenticate(&parts.method, &parts.headers, client_ip(&parts))
        .await
    {
        Ok(principal) => json(
            StatusCode::OK,
            &serde_json::json!({
                "subject": principal.subject(),
                "roles": principal.roles(),
                "permissions": principal.permissions(),
            }),
        ),
        Err(rejection) => session_refused(&sessions, &rejection),
    }
}

async fn cookie_change_password(
    service: Arc<AuthenticationService>,
    sessions: Arc<SessionAuth>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let ip = client_ip(&parts);
    let principal = match sessions
        .authenticate(&parts.method, &parts.headers, ip)
        .await
    {
        Ok(principal) => principal,
        Err(rejection) => return session_refused(&sessions, &rejection),
    };
    let body: ChangeBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let user_id = principal.subject().to_owned();
    if let Err(error) = service
        .change_password(&user_id, &body.current_password, &body.new_password)
        .await
    {
        return account_refused(&error);
    }
    // Every session of the user ends (the service does it too when it has
    // this manager); this one is replaced by a fresh one: re-authenticated.
    if let Err(error) = sessions.manager().revoke_all(&user_id).await {
        tracing::warn!(%error, "the sessions could not be ended");
        return unavailable();
    }
    let principal = principal.with_authentication(
        crate::AuthMethod::Session,
        Some(std::time::SystemTime::now()),
    );
    start_session(&sessions, &principal, &parts.headers, ip).await
}
