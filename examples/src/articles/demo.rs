//! The demo deployment: every store in one SQLite database, demo users
//! seeded on first start, the token manager shared by the guards and the
//! login routes.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexigram_auth::apikey::{ApiKeys, CreatedApiKey, NewApiKey, SqliteApiKeyStore};
use lexigram_auth::authn::{
    AuthenticationService, Created, NewUser, SqliteOneTimeTokenStore, SqliteUserStore, User,
    UserStore,
};
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::revocation::SqliteRevocationStore;
use lexigram_auth::token::{Algorithm, JwtTokenManager};
use lexigram_auth::{AuthModule, seed_roles};

/// A demo user: e-mail address, display name, password, roles.
pub(crate) struct DemoUser {
    pub(crate) email: &'static str,
    pub(crate) name: &'static str,
    pub(crate) password: &'static str,
    pub(crate) roles: &'static [&'static str],
}

/// The demo users, created on the first start (their passwords are printed:
/// they are demo accounts, not secrets).
pub(crate) const DEMO_USERS: [DemoUser; 4] = [
    DemoUser {
        email: "alice@example.com",
        name: "Alice Admin",
        password: "alice-demo-Passw0rd",
        roles: &["admin"],
    },
    DemoUser {
        email: "eddie@example.com",
        name: "Eddie Editor",
        password: "eddie-demo-Passw0rd",
        roles: &["editor"],
    },
    DemoUser {
        email: "victor@example.com",
        name: "Victor Viewer",
        password: "victor-demo-Passw0rd",
        roles: &["viewer"],
    },
    DemoUser {
        email: "nora@example.com",
        name: "Nora Nobody",
        password: "nora-demo-Passw0rd",
        roles: &[],
    },
];

/// The name of the API key created at each start.
pub(crate) const DEMO_KEY_NAME: &str = "demo-reader";

/// Everything the server needs.
pub(crate) struct Demo {
    /// The guards' module (tokens, roles, API keys).
    pub(crate) auth: AuthModule,
    /// Login, tokens and account flows.
    pub(crate) service: Arc<AuthenticationService>,
    /// API keys.
    pub(crate) keys: ApiKeys,
}

/// Why the demo could not start.
pub(crate) type DemoError = Box<dyn std::error::Error + Send + Sync>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh 32-byte signing secret: tokens do not outlive the process.
fn fresh_secret() -> Result<[u8; 32], DemoError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    Ok(secret)
}

/// Opens (creating when missing) the stores at `database_url` (a
/// `sqlite://` URL) and builds the services over them.
pub(crate) async fn open(database_url: &str) -> Result<Demo, DemoError> {
    let users: Arc<dyn UserStore> = Arc::new(SqliteUserStore::connect(database_url).await?);
    let revocations = Arc::new(SqliteRevocationStore::connect(database_url).await?);
    let one_time = Arc::new(SqliteOneTimeTokenStore::connect(database_url).await?);
    let keys = ApiKeys::new(Arc::new(SqliteApiKeyStore::connect(database_url).await?));

    let tokens = Arc::new(
        JwtTokenManager::builder()
            .hmac_key("demo", Algorithm::HS256, fresh_secret()?)
            .current_key("demo")
            .issuer("lexigram-example")
            .access_ttl(Duration::from_secs(15 * 60))
            .revocation_store(revocations)
            .build()?,
    );
    let auth = AuthModule::builder()
        .tokens(Arc::clone(&tokens))
        .roles(seed_roles())
        .api_keys(keys.clone())
        .build()?;
    let service = AuthenticationService::new(users, PasswordHasher::default(), tokens)
        .one_time_tokens(one_time);
    Ok(Demo {
        auth,
        service: Arc::new(service),
        keys,
    })
}

/// Creates the demo users that do not exist yet; returns how many it
/// created. Existing accounts (and their passwords, if changed) are kept.
pub(crate) async fn seed_users(service: &AuthenticationService) -> Result<usize, DemoError> {
    let mut created = 0;
    for demo in &DEMO_USERS {
        if service.users().user_by_email(demo.email).await?.is_some() {
            continue;
        }
        let hash = service.hasher().hash(demo.password).await?;
        let new = NewUser::new(demo.email, demo.name)
            .with_roles(demo.roles.iter().copied())
            .with_password_hash(hash);
        match service.users().create_user(&new, now()).await? {
            Created::Created(_) => created += 1,
            // Another instance seeded it between the look-up and now.
            Created::EmailTaken => {}
        }
    }
    Ok(created)
}

/// A bearer token for a seeded user, as a login would give (without
/// checking the password): for the start-up banner.
pub(crate) async fn token_for(demo: &Demo, email: &str) -> Result<Option<String>, DemoError> {
    let Some(user): Option<User> = demo.service.users().user_by_email(email).await? else {
        return Ok(None);
    };
    Ok(Some(demo.auth.token_for(&user.principal())?))
}

/// A read-only API key for Victor, valid for a day (the secret is shown
/// only now).
pub(crate) async fn create_demo_key(demo: &Demo) -> Result<Option<CreatedApiKey>, DemoError> {
    let Some(victor) = demo
        .service
        .users()
        .user_by_email("victor@example.com")
        .await?
    else {
        return Ok(None);
    };
    let new = NewApiKey::new(victor.id, DEMO_KEY_NAME)
        .with_scopes(["articles.read"])
        .expires_after(24 * 60 * 60);
    Ok(Some(demo.keys.create(new).await?))
}
