//! Users, their credentials, and the [`UserStore`] trait with its in-memory
//! implementation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use super::tenant::{Memberships, TenantRoleStore};
use crate::Principal;
use crate::authz::grammar::check_tenant;
use crate::store::{StoreError, StoreFuture, check_id};
use crate::token::UserLookup;

/// The longest e-mail address a store accepts, in bytes (RFC 5321's path
/// limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// The normal form of an e-mail address used as a login identifier:
/// surrounding white space removed and lower-cased (Unicode), so that
/// `Alice@Example.COM ` and `alice@example.com` are one account for look-up,
/// uniqueness and lockout alike.
///
/// ```
/// use lexigram_auth::authn::normalize_email;
///
/// assert_eq!(normalize_email("  Alice@Example.COM "), "alice@example.com");
/// ```
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A user account, without its password hash (see [`Credentials`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The stable user id (the `sub` of the user's tokens): 32 hex digits
    /// chosen by the store.
    pub id: String,
    /// The login e-mail address, [normalised](normalize_email) and unique.
    pub email: String,
    /// The display name.
    pub name: String,
    /// Role names, as granted by the role graph.
    pub roles: Vec<String>,
    /// Direct permissions.
    pub permissions: Vec<String>,
    /// The user's home tenant, if any: the tenant of the principal of a
    /// login that names no tenant. Per-tenant roles are kept apart, by a
    /// [`TenantRoleStore`].
    pub tenant: Option<String>,
    /// Whether the account may sign in.
    pub active: bool,
    /// Whether the e-mail address has been verified.
    pub verified: bool,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Last change of the account or its password, Unix seconds.
    pub updated_at: u64,
    /// Last successful login, Unix seconds.
    pub last_login_at: Option<u64>,
    /// Number of successful logins.
    pub login_count: u64,
}

impl User {
    /// The principal the user is now: roles, permissions and tenant.
    #[must_use]
    pub fn principal(&self) -> Principal {
        let mut principal = Principal::new(self.id.clone())
            .with_roles(self.roles.iter().cloned())
            .with_permissions(self.permissions.iter().cloned());
        if let Some(tenant) = &self.tenant {
            principal = principal.with_tenant(tenant.clone());
        }
        principal
    }

    /// The principal the user is when acting in `tenant` with `roles`, the
    /// roles assigned to it there (see [`TenantRoleStore::roles_in`]): the
    /// user's global roles, direct permissions and home tenant play no part,
    /// so nothing granted outside the tenant travels into it.
    ///
    /// ```
    /// # use lexigram_auth::authn::User;
    /// # let user = User { id: "u1".into(), email: "a@b.c".into(), name: "A".into(),
    /// #     roles: vec!["admin".into()], permissions: vec!["reports.read".into()], tenant: None,
    /// #     active: true, verified: true, created_at: 0, updated_at: 0, last_login_at: None,
    /// #     login_count: 0 };
    /// let principal = user.principal_in("acme", ["editor".to_owned()]);
    /// assert_eq!(principal.tenant(), Some("acme"));
    /// assert_eq!(principal.roles(), ["editor"]);
    /// assert!(principal.permissions().is_empty());
    /// ```
    #[must_use]
    pub fn principal_in(
        &self,
        tenant: impl Into<String>,
        roles: impl IntoIterator<Item = String>,
    ) -> Principal {
        Principal::new(self.id.clone())
            .with_roles(roles)
            .with_tenant(tenant)
    }
}

/// A user to create.
///
/// ```
/// use lexigram_auth::authn::NewUser;
///
/// let new = NewUser::new("alice@example.com", "Alice").with_roles(["editor"]);
/// assert!(new.active);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The login e-mail address (normalised by the store).
    pub email: String,
    /// The display name.
    pub name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Direct permissions.
    pub permissions: Vec<String>,
    /// The tenant, if any.
    pub tenant: Option<String>,
    /// Whether the account may sign in (default `true`).
    pub active: bool,
    /// Whether the e-mail address is verified (default `false`).
    pub verified: bool,
    /// The password hash (a PHC or bcrypt string), if the user has a password.
    pub password_hash: Option<String>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl NewUser {
    /// An active, unverified user without roles or password.
    #[must_use]
    pub fn new(email: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            name: name.into(),
            roles: Vec::new(),
            permissions: Vec::new(),
            tenant: None,
            active: true,
            verified: false,
            password_hash: None,
        }
    }

    /// Sets the roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the password hash.
    #[must_use]
    pub fn with_password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }
}

/// A user's password hash and the previous ones (most recent first), kept
/// apart from [`User`] so that profile reads never carry them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The current password hash; `None` for an account without a password
    /// (federated sign-in only).
    pub password_hash: Option<String>,
    /// Earlier hashes, most recent first, for the password history rule.
    pub previous_hashes: Vec<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("previous_hashes", &self.previous_hashes.len())
            .finish()
    }
}

/// What [`UserStore::create_user`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The user was created.
    Created(User),
    /// Another user has the same (normalised) e-mail address; nothing was
    /// written.
    EmailTaken,
}

/// What [`UserStore::update_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// The account was written.
    Updated,
    /// No user has this id.
    Missing,
    /// The new e-mail address belongs to another user; nothing was written.
    EmailTaken,
}

/// What [`UserStore::replace_password_hash`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSwap {
    /// The hash was replaced; the old one heads the history.
    Swapped,
    /// The stored hash is no longer the expected one (a concurrent change
    /// won): nothing was written.
    Stale,
    /// No user has this id.
    Missing,
}

/// Where users and their credentials live.
///
/// Implementations: [`MemoryUserStore`], `SqliteUserStore` (feature `sqlite`,
/// the embedded default) and `PostgresUserStore` (feature `postgres`); one
/// conformance suite runs against all of them. Every method fails with a
/// [`StoreError`] when the backend cannot answer; a caller never reads such
/// a failure as "no such user".
///
/// Every user store is also a [`UserLookup`]: a refresh reads the user's
/// current roles from it, and refuses users that are gone or inactive.
pub trait UserStore: fmt::Debug + Send + Sync {
    /// Creates a user with a fresh id; e-mail addresses are unique once
    /// [normalised](normalize_email).
    fn create_user<'a>(&'a self, user: &'a NewUser, now: u64) -> StoreFuture<'a, Created>;

    /// The user with this id.
    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<User>>;

    /// The user with this e-mail address (normalised before the look-up).
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<User>>;

    /// Writes the account fields of `user` (e-mail, name, roles,
    /// permissions, tenant, active, verified), found by `user.id`; the
    /// password, the creation time and the login counters are not touched.
    fn update_user<'a>(&'a self, user: &'a User, now: u64) -> StoreFuture<'a, Updated>;

    /// Deletes a user and their credentials; `false` if there was none.
    fn delete_user<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    /// Users in creation order (then by id), skipping `offset`, at most
    /// `limit`.
    fn list_users(&self, offset: u64, limit: u64) -> StoreFuture<'_, Vec<User>>;

    /// How many users there are.
    fn count_users(&self) -> StoreFuture<'_, u64>;

    /// The user's password hash and history.
    fn credentials<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Credentials>>;

    /// Replaces the password hash with `new_hash` **only if** the stored one
    /// is still `expected` (compare-and-swap: an upgrade after login and a
    /// concurrent password change cannot overwrite each other). The old hash
    /// moves to the head of the history, which keeps at most `history`
    /// entries.
    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        expected: Option<&'a str>,
        new_hash: &'a str,
        history: usize,
        now: u64,
    ) -> StoreFuture<'a, HashSwap>;

    /// Records a successful login at `at`; `false` if the user is gone.
    fn record_login<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool>;

    /// The per-tenant role assignments of these users, when the store keeps
    /// them; the stores of this crate do (they return themselves). The
    /// default, `None`, makes every user a member of no tenant: logins and
    /// refreshes within a tenant are refused.
    fn tenant_roles(&self) -> Option<&dyn TenantRoleStore> {
        None
    }
}

impl<S: UserStore + ?Sized> UserLookup for S {
    fn current_principal<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Principal>> {
        Box::pin(async move {
            let user = self.user_by_id(user_id).await?;
            Ok(user.filter(|u| u.active).map(|u| u.principal()))
        })
    }

    /// The active user acting in `tenant` with the roles assigned there
    /// ([`User::principal_in`]); `None` for a user who is gone, inactive or
    /// no longer a member of `tenant`, and for a store without
    /// [`tenant_roles`](UserStore::tenant_roles).
    fn current_principal_in<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
    ) -> StoreFuture<'a, Option<Principal>> {
        Box::pin(async move {
            let Some(assignments) = self.tenant_roles() else {
                return Ok(None);
            };
            if check_tenant(tenant).is_err() {
                return Ok(None);
            }
            let Some(user) = self.user_by_id(user_id).await?.filter(|u| u.active) else {
                return Ok(None);
            };
            let roles = assignments.roles_in(user_id, tenant).await?;
            Ok(roles.map(|roles| user.principal_in(tenant, roles)))
        })
    }
}

/// Checks an e-mail address before it is stored: not empty, at most
/// [`MAX_EMAIL_LEN`] bytes, one `@` with text on both sides.
pub(crate) fn checked_email(email: &str) -> Result<String, StoreError> {
    let email = normalize_email(email);
    let valid = email.len() <= MAX_EMAIL_LEN
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if valid {
        Ok(email)
    } else {
        Err(StoreError::InvalidId { what: "e-mail" })
    }
}

/// A fresh user id: 128 random bits in hex.
pub(crate) fn new_user_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Corrupt {
        backend: "random",
        detail: "the operating system gave no random bytes",
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The history after replacing `old` with a new hash.
pub(crate) fn next_history(old: Option<&str>, previous: &[String], keep: usize) -> Vec<String> {
    old.map(str::to_owned)
        .into_iter()
        .chain(previous.iter().cloned())
        .take(keep)
        .collect()
}

#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) user: User,
    credentials: Credentials,
    /// Roles by tenant ([`TenantRoleStore`]), deleted with the user.
    pub(super) tenants: Memberships,
}

#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) users: HashMap<String, Row>,
    by_email: HashMap<String, String>,
}

/// A [`UserStore`] in process memory: for tests, examples and single-process
/// tools. Everything is lost when the process ends. It keeps
/// [per-tenant role assignments](TenantRoleStore) too.
///
/// ```
/// use lexigram_auth::authn::{Created, MemoryUserStore, NewUser, UserStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = MemoryUserStore::new();
/// let Created::Created(alice) = store.create_user(&NewUser::new("Alice@Example.com", "Alice"), 1_000).await? else {
///     unreachable!()
/// };
/// assert_eq!(store.user_by_email("alice@example.COM").await?, Some(alice));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    tables: RwLock<Tables>,
}

impl MemoryUserStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl UserStore for MemoryUserStore {
    fn create_user<'a>(&'a self, user: &'a NewUser, now: u64) -> StoreFuture<'a, Created> {
        Box::pin(async move {
            let email = checked_email(&user.email)?;
            let id = new_user_id()?;
            let mut tables = self.write();
            if tables.by_email.contains_key(&email) {
                return Ok(Created::EmailTaken);
            }
            let created = User {
                id: id.clone(),
                email: email.clone(),
                name: user.name.clone(),
                roles: user.roles.clone(),
                permissions: user.permissions.clone(),
                tenant: user.tenant.clone(),
                active: user.active,
                verified: user.verified,
                created_at: now,
                updated_at: now,
                last_login_at: None,
                login_count: 0,
            };
            tables.by_email.insert(email, id.clone());
            tables.users.insert(
                id,
                Row {
                    user: created.clone(),
                    credentials: Credentials {
                        password_hash: user.password_hash.clone(),
                        previous_hashes: Vec::new(),
                    },
                    tenants: Memberships::new(),
                },
            );
            Ok(Created::Created(created))
        })
    }

    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<User>> {
        Box::pin(async move {
            check_id("user id", id)?;
            Ok(self.read().users.get(id).map(|row| row.user.clone()))
        })
    }

    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<User>> {
        Box::pin(async move {
            let email = normalize_email(email);
            let tables = self.read();
            Ok(tables
                .by_email
                .get(&email)
                .and_then(|id| tables.users.get(id))
                .map(|row| row.user.clone()))
        })
    }

    fn update_user<'a>(&'a self, user: &'a User, now: u64) -> StoreFuture<'a, Updated> {
        Box::pin(async move {
            check_id("user id", &user.id)?;
            let email = checked_email(&user.email)?;
            let mut tables = self.write();
            if tables
                .by_email
                .get(&email)
                .is_some_and(|owner| *owner != user.id)
            {
                return Ok(Updated::EmailTaken);
            }
            let Some(row) = tables.users.get_mut(&user.id) else {
                return Ok(Updated::Missing);
            };
            let old_email = std::mem::replace(&mut row.user.email, email.clone());
            row.user.name.clone_from(&user.name);
            row.user.roles.clone_from(&user.roles);
            row.user.permissions.clone_from(&user.permissions);
            row.user.tenant.clone_from(&user.tenant);
            row.user.active = user.active;
            row.user.verified = user.verified;
            row.user.updated_at = now;
            tables.by_email.remove(&old_email);
            tables.by_email.insert(email, user.id.clone());
            Ok(Updated::Updated)
        })
    }

    fn delete_user<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            check_id("user id", id)?;
            let mut tables = self.write();
            let Some(row) = tables.users.remove(id) else {
                return Ok(false);
            };
            tables.by_email.remove(&row.user.email);
            Ok(true)
        })
    }

    fn list_users(&self, offset: u64, limit: u64) -> StoreFuture<'_, Vec<User>> {
        Box::pin(async move {
            let tables = self.read();
            let mut users: Vec<&User> = tables.users.values().map(|row| &row.user).collect();
            users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            let skip = usize::try_from(offset).unwrap_or(usize::MAX);
            let take = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(users.into_iter().skip(skip).take(take).cloned().collect())
        })
    }

    fn count_users(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(u64::try_from(self.read().users.len()).unwrap_or(u64::MAX)) })
    }

    fn credentials<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Credentials>> {
        Box::pin(async move {
            check_id("user id", id)?;
            Ok(self.read().users.get(id).map(|row| row.credentials.clone()))
        })
    }

    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        expected: Option<&'a str>,
        new_hash: &'a str,
        history: usize,
        now: u64,
    ) -> StoreFuture<'a, HashSwap> {
        Box::pin(async move {
            check_id("user id", id)?;
            let mut tables = self.write();
            let Some(row) = tables.users.get_mut(id) else {
                return Ok(HashSwap::Missing);
            };
            if row.credentials.password_hash.as_deref() != expected {
                return Ok(HashSwap::Stale);
            }
            row.credentials.previous_hashes =
                next_history(expected, &row.credentials.previous_hashes, history);
            row.credentials.password_hash = Some(new_hash.to_owned());
            row.user.updated_at = now;
            Ok(HashSwap::Swapped)
        })
    }

    fn record_login<'a>(&'a self, id: &'a str, at: u64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            check_id("user id", id)?;
            let mut tables = self.write();
            let Some(row) = tables.users.get_mut(id) else {
                return Ok(false);
            };
            row.user.last_login_at = Some(at);
            row.user.login_count = row.user.login_count.saturating_add(1);
            Ok(true)
        })
    }

    fn tenant_roles(&self) -> Option<&dyn TenantRoleStore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_most_recent_first_and_is_bounded() {
        let previous = vec!["b".to_owned(), "c".to_owned()];
        assert_eq!(next_history(Some("a"), &previous, 2), ["a", "b"]);
        assert_eq!(next_history(None, &previous, 5), ["b", "c"]);
        assert!(next_history(Some("a"), &previous, 0).is_empty());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(checked_email(" A@B.c ").unwrap(), "a@b.c");
        for bad in ["", "no-at", "@b", "a@", &format!("{}@b.c", "a".repeat(260))] {
            assert!(checked_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let new = NewUser::new("a@b.c", "A").with_password_hash("$argon2id$secret");
        assert!(!format!("{new:?}").contains("secret"));
        let c = Credentials {
            password_hash: Some("$2b$12$secret".into()),
            previous_hashes: vec!["$2b$old".into()],
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
