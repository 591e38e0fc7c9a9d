//! Per-tenant role assignments (AUTHZ-7): the [`TenantRoleStore`] trait and
//! its in-memory implementation on [`MemoryUserStore`].

use std::collections::BTreeMap;
use std::fmt;

use super::user::MemoryUserStore;
use crate::authz::grammar::{check_role, check_tenant};
use crate::store::{StoreError, StoreFuture, check_id};

/// Which roles a user holds in which tenant.
///
/// A user is a *member* of a tenant when it has an assignment there, even
/// one with no roles; [`roles_in`](Self::roles_in) answers `None` for a
/// non-member. A login within a tenant
/// ([`AuthenticationService::authenticate_in`](super::AuthenticationService::authenticate_in))
/// issues a principal acting in that tenant with exactly the roles assigned
/// there, and every refresh re-reads them; the user's global
/// [`roles`](super::User::roles) play no part in it.
///
/// Implemented by the user stores ([`MemoryUserStore`], `SqliteUserStore`,
/// `PostgresUserStore`), which hand themselves out through
/// [`UserStore::tenant_roles`](super::UserStore::tenant_roles); deleting a
/// user deletes its assignments. One conformance suite runs against every
/// implementation.
///
/// Tenant ids follow [`check_tenant`] (1 to 64 bytes of `[a-z0-9_-]`) and
/// role names [`check_role`]; a name that breaks its grammar is a
/// [`StoreError::InvalidName`] and nothing is read or written.
///
/// ```
/// use lexigram_auth::authn::{Created, MemoryUserStore, NewUser, TenantRoleStore, UserStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::store::StoreError> {
/// let store = MemoryUserStore::new();
/// let Created::Created(ann) = store.create_user(&NewUser::new("ann@example.com", "Ann"), 1_000).await? else {
///     unreachable!()
/// };
/// assert!(store.assign(&ann.id, "acme", &["editor".into()]).await?);
/// assert!(store.assign(&ann.id, "globex", &["viewer".into()]).await?);
/// assert_eq!(store.roles_in(&ann.id, "acme").await?, Some(vec!["editor".to_owned()]));
/// assert_eq!(store.roles_in(&ann.id, "initech").await?, None); // not a member
/// assert_eq!(store.tenants_of(&ann.id).await?.len(), 2);
/// assert!(store.unassign(&ann.id, "globex").await?);
/// # Ok(())
/// # }
/// ```
pub trait TenantRoleStore: fmt::Debug + Send + Sync {
    /// Makes `user_id` a member of `tenant` holding exactly `roles` there
    /// (duplicates dropped, order kept), replacing any earlier assignment
    /// in that tenant. `false` when no user has this id: nothing is written.
    fn assign<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
        roles: &'a [String],
    ) -> StoreFuture<'a, bool>;

    /// Ends the membership of `user_id` in `tenant`; `false` if it was not
    /// a member.
    fn unassign<'a>(&'a self, user_id: &'a str, tenant: &'a str) -> StoreFuture<'a, bool>;

    /// The roles of `user_id` in `tenant`, or `None` when it is not a
    /// member (an unknown user is a member of nothing).
    fn roles_in<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
    ) -> StoreFuture<'a, Option<Vec<String>>>;

    /// Every tenant `user_id` is a member of, with its roles there, ordered
    /// by tenant id.
    fn tenants_of<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Vec<(String, Vec<String>)>>;
}

/// Checks an assignment's names and drops repeated roles (first one kept).
pub(crate) fn checked_assignment(
    user_id: &str,
    tenant: &str,
    roles: &[String],
) -> Result<Vec<String>, StoreError> {
    check_id("user id", user_id)?;
    check_tenant(tenant)?;
    let mut kept: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        check_role(role)?;
        if !kept.contains(role) {
            kept.push(role.clone());
        }
    }
    Ok(kept)
}

/// Checks the key of a membership look-up.
pub(crate) fn checked_key(user_id: &str, tenant: &str) -> Result<(), StoreError> {
    check_id("user id", user_id)?;
    check_tenant(tenant)?;
    Ok(())
}

/// The assignments of one user in [`MemoryUserStore`], by tenant.
pub(super) type Memberships = BTreeMap<String, Vec<String>>;

impl TenantRoleStore for MemoryUserStore {
    fn assign<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
        roles: &'a [String],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let roles = checked_assignment(user_id, tenant, roles)?;
            let mut tables = self.write();
            let Some(row) = tables.users.get_mut(user_id) else {
                return Ok(false);
            };
            row.tenants.insert(tenant.to_owned(), roles);
            Ok(true)
        })
    }

    fn unassign<'a>(&'a self, user_id: &'a str, tenant: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            checked_key(user_id, tenant)?;
            let mut tables = self.write();
            Ok(tables
                .users
                .get_mut(user_id)
                .is_some_and(|row| row.tenants.remove(tenant).is_some()))
        })
    }

    fn roles_in<'a>(
        &'a self,
        user_id: &'a str,
        tenant: &'a str,
    ) -> StoreFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            checked_key(user_id, tenant)?;
            Ok(self
                .read()
                .users
                .get(user_id)
                .and_then(|row| row.tenants.get(tenant).cloned()))
        })
    }

    fn tenants_of<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Vec<(String, Vec<String>)>> {
        Box::pin(async move {
            check_id("user id", user_id)?;
            Ok(self
                .read()
                .users
                .get(user_id)
                .map(|row| {
                    row.tenants
                        .iter()
                        .map(|(tenant, roles)| (tenant.clone(), roles.clone()))
                        .collect()
                })
                .unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NameError;

    #[test]
    fn assignments_are_checked_and_deduplicated() {
        let roles = ["editor".to_owned(), "viewer".into(), "editor".into()];
        assert_eq!(
            checked_assignment("u", "acme", &roles).unwrap(),
            ["editor", "viewer"]
        );
        assert!(checked_assignment("u", "acme", &[]).unwrap().is_empty());
        assert!(matches!(
            checked_assignment("u", "Acme", &roles),
            Err(StoreError::InvalidName(NameError::InvalidTenant { .. }))
        ));
        assert!(matches!(
            checked_assignment("u", "acme", &["Editor".to_owned()]),
            Err(StoreError::InvalidName(NameError::InvalidRole { .. }))
        ));
        assert!(matches!(
            checked_assignment("", "acme", &roles),
            Err(StoreError::InvalidId { .. })
        ));
        assert!(checked_key("u", &"a".repeat(65)).is_err());
        assert!(checked_key("u", &"a".repeat(64)).is_ok());
    }
}
