//! The articles API: a public route, one route per guard kind, and the
//! library's login and account routes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use lexigram_auth::authn::{AuthenticationService, auth_routes};
use lexigram_auth::axum::GuardLayer;
use lexigram_auth::ratelimit::{MemoryRateLimiter, Quota, QuotaError, RateLimitLayer};
use lexigram_auth::{
    AuthModule, Policy, Principal, require_auth, require_permissions, require_roles,
};
use serde::{Deserialize, Serialize};

/// An article, and its attribute-based rules: authors edit their own drafts;
/// nobody edits a locked article, whatever their roles. Anyone else needs the
/// permission `articles.edit` (admins hold `*`).
#[derive(Debug, Clone, Serialize, Deserialize, Policy)]
#[policy(kind = "articles")]
#[policy(allow(id = "authors-edit-drafts", action = "edit",
    when = principal.subject == resource.author_id && resource.status == "draft"))]
#[policy(deny(id = "locked-articles", when = resource.locked))]
pub(crate) struct Article {
    /// Its title.
    #[policy(skip)]
    pub(crate) title: String,
    /// Its text.
    #[policy(skip)]
    pub(crate) body: String,
    /// Who wrote it (the subject of the creating user).
    pub(crate) author_id: String,
    /// `draft` or `published`.
    pub(crate) status: String,
    /// Locked articles are not edited by anyone.
    pub(crate) locked: bool,
}

/// What a client sends to create or edit an article.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ArticleInput {
    /// Its title.
    pub(crate) title: String,
    /// Its text.
    pub(crate) body: String,
}

/// The router state: the auth module and the articles.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// Authentication and authorization.
    pub(crate) auth: AuthModule,
    /// The articles by id.
    pub(crate) articles: Arc<RwLock<BTreeMap<u64, Article>>>,
}

impl FromRef<AppState> for AuthModule {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Admins only: a requirement type for the `/admin` router.
#[require_roles("admin")]
pub(crate) struct Admins;

type ApiResult<T> = Result<T, StatusCode>;

fn read(state: &AppState) -> ApiResult<std::sync::RwLockReadGuard<'_, BTreeMap<u64, Article>>> {
    state
        .articles
        .read()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn write(state: &AppState) -> ApiResult<std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Article>>> {
    state
        .articles
        .write()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

/// Public: anyone may check the server is up.
async fn health() -> &'static str {
    "ok"
}

/// Any signed-in user: who am I?
#[require_auth]
async fn me(State(state): State<AppState>, principal: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "subject": principal.subject(),
        "roles": principal.roles(),
        "permissions": state.auth.authz().effective_permissions(&principal),
    }))
}

/// Readers: list the articles.
#[require_permissions("articles.read")]
async fn list(State(state): State<AppState>) -> ApiResult<Json<BTreeMap<u64, Article>>> {
    Ok(Json(read(&state)?.clone()))
}

/// Readers: one article.
#[require_permissions("articles.read")]
async fn show(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult<Json<Article>> {
    read(&state)?
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// Writers: create an article, as a draft of theirs.
#[require_permissions("articles.write")]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(input): Json<ArticleInput>,
) -> ApiResult<(StatusCode, Json<u64>)> {
    let mut articles = write(&state)?;
    let id = articles.keys().next_back().map_or(1, |last| last + 1);
    articles.insert(
        id,
        Article {
            title: input.title,
            body: input.body,
            author_id: principal.subject().to_owned(),
            status: "draft".to_owned(),
            locked: false,
        },
    );
    Ok((StatusCode::CREATED, Json(id)))
}

/// Editors or admins who can also write: replace an article.
#[require_roles("editor", "admin")]
#[require_permissions("articles.write")]
async fn update(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Json(input): Json<ArticleInput>,
) -> ApiResult<StatusCode> {
    let mut articles = write(&state)?;
    match articles.get_mut(&id) {
        Some(slot) => {
            slot.title = input.title;
            slot.body = input.body;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(StatusCode::NOT_FOUND),
    }
}

/// Edit an article's text: decided per article by its rules (authors edit
/// their own drafts, locked articles are refused), else by the permission
/// `articles.edit`. A refusal is the guards' 403.
#[require_auth]
async fn edit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<u64>,
    Json(input): Json<ArticleInput>,
) -> axum::response::Result<StatusCode> {
    let article = read(&state)?
        .get(&id)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)?;
    state.auth.check(&principal, "edit", &article).await?;
    let mut articles = write(&state)?;
    if let Some(slot) = articles.get_mut(&id) {
        slot.title = input.title;
        slot.body = input.body;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Writers: publish an article (it leaves the draft state).
#[require_permissions("articles.write")]
async fn publish(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult<StatusCode> {
    let mut articles = write(&state)?;
    let slot = articles.get_mut(&id).ok_or(StatusCode::NOT_FOUND)?;
    "published".clone_into(&mut slot.status);
    Ok(StatusCode::NO_CONTENT)
}

/// Admins, or editors who may delete: remove an article.
#[require_roles(any("admin", all("editor", not("viewer-only"))))]
#[require_permissions("articles.delete")]
async fn delete(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult<StatusCode> {
    write(&state)?
        .remove(&id)
        .map(|_| StatusCode::NO_CONTENT)
        .ok_or(StatusCode::NOT_FOUND)
}

/// Admin area: guarded by a router-level layer instead of attributes.
async fn stats(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({ "articles": read(&state)?.len() })))
}

/// Requests per minute that one client may make to each `/auth` route.
pub(crate) const AUTH_ROUTE_LIMIT: u32 = 30;

/// The application router: the articles API, and the ready-made login and
/// account routes under `/auth`, rate-limited per client and route.
pub(crate) fn router(
    state: AppState,
    service: Arc<AuthenticationService>,
) -> Result<Router, QuotaError> {
    // 30 a minute is far above what one person types, far below guessing.
    let quota = Quota::new(AUTH_ROUTE_LIMIT, std::time::Duration::from_secs(60))?;
    let auth = auth_routes(service).route_layer(RateLimitLayer::new(
        Arc::new(MemoryRateLimiter::new()),
        quota,
    ));
    let admin = Router::new()
        .route("/admin/stats", get(stats))
        .route_layer(GuardLayer::<Admins>::new(state.auth.clone()));
    Ok(Router::new()
        .route("/health", get(health))
        .route("/me", get(me))
        .route("/articles", get(list).post(create))
        .route("/articles/{id}", get(show).put(update).delete(delete))
        .route("/articles/{id}/text", axum::routing::patch(edit))
        .route("/articles/{id}/publish", axum::routing::post(publish))
        .merge(admin)
        .nest("/auth", auth)
        .with_state(state))
}

/// Demo articles: one published and locked.
pub(crate) fn seed_articles() -> BTreeMap<u64, Article> {
    BTreeMap::from([(
        1,
        Article {
            title: "Hello".to_owned(),
            body: "The first article.".to_owned(),
            author_id: "system".to_owned(),
            status: "published".to_owned(),
            locked: true,
        },
    )])
}
