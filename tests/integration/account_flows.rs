//! AUTHN-6: registration, password change, password reset and e-mail
//! verification through `AuthenticationService`, on SQLite stores, with
//! every event observed through `ChannelSink` and every mail through
//! `ChannelMailer`.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use lexigram_auth::authn::{
    AccountError, AuthEvent, AuthenticationService, ChannelMailer, ChannelSink, FailureReason,
    Mail, MemoryOneTimeTokenStore, NewRegistration, OneTimeToken, OneTimeTokenStore,
    PostgresOneTimeTokenStore, SqliteOneTimeTokenStore, SqliteUserStore, TokenPurpose, UserStore,
    token_digest,
};
use lexigram_auth::clock::ManualClock;
use lexigram_auth::error::TokenError;
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::revocation::MemoryRevocationStore;
use lexigram_auth::token::{Algorithm, JwtTokenManager};

use crate::support::peer;

const PASSWORD: &str = "Correct-Horse-Battery-9";
const SECOND: &str = "Staple-Paper-Clip-77";
const THIRD: &str = "Purple-Monkey-Dish-42";

struct Fixture {
    service: AuthenticationService,
    events: Receiver<AuthEvent>,
    outbox: Receiver<Mail>,
    clock: ManualClock,
    tokens: Arc<SqliteOneTimeTokenStore>,
}

async fn fixture() -> Fixture {
    let clock = ManualClock::at_unix(1_700_000_000);
    let jwt = JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .revocation_store(Arc::new(MemoryRevocationStore::new()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let users: Arc<dyn UserStore> =
        Arc::new(SqliteUserStore::connect("sqlite::memory:").await.unwrap());
    let tokens = Arc::new(
        SqliteOneTimeTokenStore::connect("sqlite::memory:")
            .await
            .unwrap(),
    );
    let (sink, events) = ChannelSink::new();
    let (mailer, outbox) = ChannelMailer::new();
    let service = AuthenticationService::new(users, PasswordHasher::default(), jwt)
        .events(Arc::new(sink))
        .mailer(Arc::new(mailer))
        .one_time_tokens(tokens.clone())
        .clock(Arc::new(clock.clone()));
    Fixture {
        service,
        events,
        outbox,
        clock,
        tokens,
    }
}

fn registration(email: &str, password: &str) -> NewRegistration {
    NewRegistration {
        email: email.into(),
        name: "Alice".into(),
        password: password.into(),
    }
}

fn drain(events: &Receiver<AuthEvent>) -> Vec<AuthEvent> {
    events.try_iter().collect()
}

/// Registers alice and returns her id, with the verification mail taken.
async fn alice(f: &Fixture) -> String {
    let user = f
        .service
        .register(registration("alice@example.com", PASSWORD))
        .await
        .unwrap();
    let mail = f.outbox.try_recv().unwrap();
    assert_eq!(mail.purpose, TokenPurpose::EmailVerification);
    drain(&f.events);
    user.id
}

#[tokio::test]
async fn registration_applies_the_policy_and_refuses_a_duplicate_in_any_spelling() {
    let f = fixture().await;
    // Every violation at once: too short, no upper case, no digit; and the
    // e-mail's local part is context.
    let err = f
        .service
        .register(registration("alice@example.com", "alice"))
        .await
        .unwrap_err();
    let AccountError::WeakPassword(violations) = &err else {
        panic!("{err:?}")
    };
    assert!(violations.violations().len() >= 3, "{violations:?}");
    assert!(
        violations.codes().any(|c| c.contains("user_data")),
        "{violations:?}"
    );
    assert_eq!(err.code(), "password_policy");
    assert!(drain(&f.events).is_empty());

    let user = f
        .service
        .register(registration(" Alice@Example.com ", PASSWORD))
        .await
        .unwrap();
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(user.roles, ["viewer"]);
    assert!(!user.verified);
    assert_eq!(
        drain(&f.events),
        [AuthEvent::UserRegistered {
            user_id: user.id.clone()
        }]
    );
    for spelling in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "  alice@Example.Com",
    ] {
        let err = f
            .service
            .register(registration(spelling, PASSWORD))
            .await
            .unwrap_err();
        assert_eq!(err, AccountError::EmailTaken, "{spelling}");
    }
    assert_eq!(
        f.service
            .register(registration("not-an-address", PASSWORD))
            .await
            .unwrap_err(),
        AccountError::InvalidEmail
    );
    // The new user can sign in.
    assert!(
        f.service
            .authenticate("alice@example.com", PASSWORD)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_verification_mail_verifies_the_address_once() {
    let f = fixture().await;
    let user = f
        .service
        .register(registration("alice@example.com", PASSWORD))
        .await
        .unwrap();
    let mail = f.outbox.try_recv().unwrap();
    assert_eq!(mail.to, "alice@example.com");
    assert!(mail.body.contains(&mail.token));
    assert!(!format!("{mail:?}").contains(&mail.token));
    drain(&f.events);

    // A reset token is not a verification token and the other way round.
    assert_eq!(
        f.service.confirm_reset(&mail.token, SECOND).await,
        Err(AccountError::InvalidToken)
    );
    let verified = f.service.verify_email(&mail.token).await.unwrap();
    assert!(verified.verified);
    assert!(
        f.service
            .users()
            .user_by_id(&user.id)
            .await
            .unwrap()
            .unwrap()
            .verified
    );
    assert_eq!(
        drain(&f.events),
        [AuthEvent::EmailVerified {
            user_id: user.id.clone()
        }]
    );
    assert_eq!(
        f.service.verify_email(&mail.token).await.unwrap_err(),
        AccountError::InvalidToken
    );
    assert_eq!(
        f.service.verify_email("garbage").await.unwrap_err(),
        AccountError::InvalidToken
    );
}

#[tokio::test]
async fn a_verification_token_expires_after_a_day() {
    let f = fixture().await;
    f.service
        .register(registration("alice@example.com", PASSWORD))
        .await
        .unwrap();
    let mail = f.outbox.try_recv().unwrap();
    f.clock.advance(Duration::from_secs(24 * 60 * 60));
    assert_eq!(
        f.service.verify_email(&mail.token).await.unwrap_err(),
        AccountError::InvalidToken
    );
    // A new one can be asked for, and works.
    f.service
        .resend_verification("ALICE@example.com")
        .await
        .unwrap();
    let again = f.outbox.try_recv().unwrap();
    assert!(f.service.verify_email(&again.token).await.unwrap().verified);
}

#[tokio::test]
async fn change_password_needs_the_current_one_refuses_reuse_and_ends_old_tokens() {
    let f = fixture().await;
    let id = alice(&f).await;
    let old = f
        .service
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    drain(&f.events);

    // A wrong current password is refused like a failed login.
    assert_eq!(
        f.service
            .change_password(&id, "Wrong-Password-1", SECOND)
            .await
            .unwrap_err(),
        AccountError::InvalidCredentials
    );
    assert_eq!(
        drain(&f.events),
        [AuthEvent::LoginFailed {
            identifier: "alice@example.com".into(),
            reason: FailureReason::WrongPassword,
            ip: None,
        }]
    );
    // The current password again, or a weak one, is refused.
    assert_eq!(
        f.service
            .change_password(&id, PASSWORD, PASSWORD)
            .await
            .unwrap_err(),
        AccountError::PasswordReused
    );
    assert!(matches!(
        f.service.change_password(&id, PASSWORD, "short").await,
        Err(AccountError::WeakPassword(_))
    ));

    f.clock.advance(Duration::from_secs(1));
    f.service
        .change_password(&id, PASSWORD, SECOND)
        .await
        .unwrap();
    assert_eq!(
        drain(&f.events),
        [
            AuthEvent::TokenRevoked {
                user_id: id.clone(),
                jti: None
            },
            AuthEvent::PasswordChanged {
                user_id: id.clone()
            },
        ]
    );
    // Old tokens are gone.
    assert_eq!(
        f.service
            .refresh_token(&old.refresh_token)
            .await
            .unwrap_err(),
        TokenError::Revoked
    );
    assert_eq!(
        f.service
            .tokens()
            .verify_token(&old.access_token)
            .await
            .unwrap_err(),
        TokenError::Revoked
    );
    // The old password is history: refused as a new one.
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(
        f.service
            .change_password(&id, SECOND, PASSWORD)
            .await
            .unwrap_err(),
        AccountError::PasswordReused
    );
    // The new password signs in; the old one does not.
    assert!(
        f.service
            .authenticate("alice@example.com", PASSWORD)
            .await
            .is_err()
    );
    assert!(
        f.service
            .authenticate("alice@example.com", SECOND)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn reset_answers_alike_works_once_and_ends_old_tokens() {
    let f = fixture().await;
    let id = alice(&f).await;
    let old = f
        .service
        .authenticate("alice@example.com", PASSWORD)
        .await
        .unwrap();
    drain(&f.events);

    // Unknown and known addresses get the same answer.
    let unknown = f.service.request_reset("mallory@example.com").await;
    let known = f.service.request_reset("Alice@Example.com").await;
    assert_eq!(unknown, Ok(()));
    assert_eq!(known, unknown);
    let mail = f.outbox.try_recv().unwrap();
    assert!(f.outbox.try_recv().is_err(), "one mail, to alice only");
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.purpose, TokenPurpose::PasswordReset);
    assert_eq!(mail.token.len(), 43);
    assert_eq!(
        drain(&f.events),
        [AuthEvent::PasswordResetRequested {
            user_id: id.clone()
        }]
    );

    // A weak password does not use the token up.
    assert!(matches!(
        f.service.confirm_reset(&mail.token, "weak").await,
        Err(AccountError::WeakPassword(_))
    ));
    f.clock.advance(Duration::from_secs(1));
    f.service.confirm_reset(&mail.token, SECOND).await.unwrap();
    assert_eq!(
        drain(&f.events),
        [
            AuthEvent::TokenRevoked {
                user_id: id.clone(),
                jti: None
            },
            AuthEvent::PasswordChanged {
                user_id: id.clone()
            },
        ]
    );
    // Once only.
    assert_eq!(
        f.service.confirm_reset(&mail.token, THIRD).await,
        Err(AccountError::InvalidToken)
    );
    // Old tokens are gone; the new password signs in.
    assert_eq!(
        f.service
            .refresh_token(&old.refresh_token)
            .await
            .unwrap_err(),
        TokenError::Revoked
    );
    f.clock.advance(Duration::from_secs(1));
    assert!(
        f.service
            .authenticate("alice@example.com", SECOND)
            .await
            .is_ok()
    );
    // The previous password went into the history.
    let creds = f.service.users().credentials(&id).await.unwrap().unwrap();
    assert_eq!(creds.previous_hashes.len(), 1);
}

#[tokio::test]
async fn a_reset_token_expires_and_a_new_password_voids_pending_ones() {
    let f = fixture().await;
    let id = alice(&f).await;
    f.service.request_reset("alice@example.com").await.unwrap();
    let first = f.outbox.try_recv().unwrap();
    f.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        f.service.confirm_reset(&first.token, SECOND).await,
        Err(AccountError::InvalidToken)
    );

    f.service.request_reset("alice@example.com").await.unwrap();
    let second = f.outbox.try_recv().unwrap();
    f.service
        .change_password(&id, PASSWORD, SECOND)
        .await
        .unwrap();
    assert_eq!(
        f.service.confirm_reset(&second.token, THIRD).await,
        Err(AccountError::InvalidToken)
    );
}

#[tokio::test]
async fn only_the_sha256_of_tokens_is_stored() {
    let f = fixture().await;
    alice(&f).await;
    f.service.request_reset("alice@example.com").await.unwrap();
    let mail = f.outbox.try_recv().unwrap();
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT token_hash, purpose, used FROM lexigram_one_time_tokens")
            .fetch_all(f.tokens.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "the verification token and the reset token");
    let reset: Vec<_> = rows.iter().filter(|r| r.1 == "password_reset").collect();
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].0, token_digest(&mail.token));
    assert_eq!(reset[0].2, 0);
    for (hash, _, _) in &rows {
        assert_eq!(hash.len(), 64);
        assert_ne!(*hash, mail.token);
    }
    // Nothing in the table holds the token itself.
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT token_hash || purpose || user_id FROM lexigram_one_time_tokens")
            .fetch_all(f.tokens.pool())
            .await
            .unwrap();
    assert!(dump.iter().all(|row| !row.contains(&mail.token)));
    // The store finds the token by its digest.
    assert!(
        f.tokens
            .peek(
                &token_digest(&mail.token),
                TokenPurpose::PasswordReset,
                1_700_000_001
            )
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resets_with_one_token_succeed_once() {
    let f = fixture().await;
    alice(&f).await;
    f.service.request_reset("alice@example.com").await.unwrap();
    let mail = f.outbox.try_recv().unwrap();
    let (a, b) = tokio::join!(
        f.service.confirm_reset(&mail.token, SECOND),
        f.service.confirm_reset(&mail.token, THIRD)
    );
    let outcomes = [a, b];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Err(AccountError::InvalidToken)));
}

/// The contract every one-time token store keeps; ids are unique per run so
/// that a shared database can be reused.
async fn conformance(name: &str, store: Arc<dyn OneTimeTokenStore>) {
    let run = format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let user = format!("user-{run}");
    let reset = TokenPurpose::PasswordReset;
    let verify = TokenPurpose::EmailVerification;
    let token = |n: u32, purpose, expires_at| OneTimeToken {
        digest: token_digest(&format!("{run}-{n}")),
        purpose,
        user_id: user.clone(),
        created_at: 1_000,
        expires_at,
    };
    let t1 = token(1, reset, 2_000);
    store.insert(&t1).await.unwrap();
    // Purpose-bound and expiring.
    assert_eq!(
        store.peek(&t1.digest, verify, 1_500).await.unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        store.consume(&t1.digest, verify, 1_500).await.unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        store.peek(&t1.digest, reset, 2_000).await.unwrap(),
        None,
        "{name}"
    );
    assert_eq!(
        store
            .peek(&t1.digest, reset, 1_999)
            .await
            .unwrap()
            .as_deref(),
        Some(user.as_str()),
        "{name}"
    );
    // Single use, also under concurrency.
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (store, digest) = (store.clone(), t1.digest.clone());
            tokio::spawn(async move { store.consume(&digest, reset, 1_500).await.unwrap() })
        })
        .collect();
    let mut won = Vec::new();
    for task in tries {
        won.push(task.await.unwrap());
    }
    assert_eq!(won.iter().filter(|r| r.is_some()).count(), 1, "{name}");
    assert_eq!(
        store.peek(&t1.digest, reset, 1_500).await.unwrap(),
        None,
        "{name}"
    );
    // Revoking a user's tokens of one purpose leaves the other purpose.
    let t2 = token(2, reset, 2_000);
    let t3 = token(3, verify, 2_000);
    store.insert(&t2).await.unwrap();
    store.insert(&t3).await.unwrap();
    assert_eq!(store.revoke_user(&user, reset).await.unwrap(), 1, "{name}");
    assert_eq!(
        store.consume(&t2.digest, reset, 1_500).await.unwrap(),
        None,
        "{name}"
    );
    assert!(
        store
            .consume(&t3.digest, verify, 1_500)
            .await
            .unwrap()
            .is_some(),
        "{name}"
    );
    // Purge removes used and expired tokens (at least ours).
    let t4 = token(4, reset, 1_800);
    store.insert(&t4).await.unwrap();
    assert!(store.purge(1_900).await.unwrap() >= 4, "{name}");
    assert_eq!(
        store.peek(&t4.digest, reset, 1_000).await.unwrap(),
        None,
        "{name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_one_time_store_conformance() {
    conformance("memory", Arc::new(MemoryOneTimeTokenStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_time_store_conformance() {
    let path = std::env::temp_dir().join(format!("lexigram-onetime-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteOneTimeTokenStore::connect(&url).await.unwrap();
    let pool = store.pool().clone();
    conformance("sqlite (file)", Arc::new(store)).await;
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_time_store_conformance() {
    let Some(url) = peer("LEXIGRAM_TEST_POSTGRES_URL") else {
        return;
    };
    let store = PostgresOneTimeTokenStore::connect(&url).await.unwrap();
    conformance("postgres", Arc::new(store)).await;
}
