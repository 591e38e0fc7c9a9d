// Guards on service-layer functions taking `&Principal`: free and sync functions,
// methods with `self`, generics, stacked guards, step-up options; the
// refusal comes back through the function's `Result` via `From`.
#![deny(warnings)]

use lexigram_auth::error::AuthorizationFailed;
use lexigram_auth::{Principal, require_auth, require_permissions, require_roles};

#[derive(Debug)]
enum ServiceError {
    Denied(AuthorizationFailed),
}

impl From<AuthorizationFailed> for ServiceError {
    fn from(error: AuthorizationFailed) -> Self {
        Self::Denied(error)
    }
}

#[require_permissions("articles.publish")]
async fn publish(principal: &Principal, id: u64) -> Result<u64, ServiceError> {
    let _ = principal.subject();
    Ok(id)
}

struct Articles;

impl Articles {
    #[require_roles("editor")]
    #[require_auth(fresh = "10m")]
    async fn edit<'a>(&self, who: &'a Principal, title: &str) -> Result<String, AuthorizationFailed> {
        Ok(format!("{} edits {title}", who.subject()))
    }

    #[require_auth(mfa)]
    pub async fn rotate(&mut self, mut who: &lexigram_auth::Principal) -> Result<(), ServiceError> {
        let other = Principal::new("x");
        who = if who.subject().is_empty() { &other } else { who };
        drop(who.subject().to_owned());
        Ok(())
    }
}

#[require_roles("viewer")]
async fn list<T>(principal: &Principal, items: Vec<T>) -> Result<Vec<T>, ServiceError>
where
    T: Send,
{
    let _ = principal;
    Ok(items)
}

// Synchronous functions are guarded the same way.
#[require_permissions("reports.read")]
fn report(principal: &Principal) -> Result<&str, AuthorizationFailed> {
    Ok(principal.subject())
}

fn main() {
    assert!(matches!(report(&p_for_report()), Err(_)));
    let p = Principal::new("alice");
    let mut articles = Articles;
    let _ = publish(&p, 1);
    let _ = articles.edit(&p, "title");
    let _ = articles.rotate(&p);
    let _ = list(&p, vec![1_u8]);
    let _ = ServiceError::Denied;
}

fn p_for_report() -> Principal {
    Principal::new("bob")
}
