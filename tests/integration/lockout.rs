//! AUTHN-5: account lockout shared by instances through Redis.

use std::sync::Arc;

use lexigram_auth::authn::{LockState, Lockout, LockoutConfig, RedisLockoutStore};

use crate::support::{REDIS, peer};

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_lock_together() {
    let Some(url) = peer("LEXIGRAM_TEST_REDIS_URL") else {
        return;
    };
    let _shared = REDIS.read().await;
    let config = LockoutConfig::default();
    let a = Lockout::new(
        Arc::new(RedisLockoutStore::connect(&url).await.unwrap()),
        config,
    );
    let b = Lockout::new(
        Arc::new(RedisLockoutStore::connect(&url).await.unwrap()),
        config,
    );
    let who = format!("Alice.{}@Example.com", run_id());

    // Failures on either instance add up; the fifth locks both.
    for n in 1..=4 {
        let instance = if n % 2 == 0 { &a } else { &b };
        assert_eq!(
            instance.record_failure(&who).await.unwrap(),
            LockState::Open { failures: n }
        );
    }
    assert!(a.record_failure(&who).await.unwrap().is_locked());
    for instance in [&a, &b] {
        match instance.check(&who.to_uppercase()).await.unwrap() {
            LockState::Locked { retry_after } => assert!((290..=300).contains(&retry_after)),
            open => panic!("not locked: {open:?}"),
        }
    }
    // A success on one instance clears it for both.
    b.clear(&who).await.unwrap();
    assert_eq!(
        a.check(&who).await.unwrap(),
        LockState::Open { failures: 0 }
    );

    // Concurrent failures from both instances are all counted (atomic).
    let wide = LockoutConfig {
        max_failures: 1_000,
        ..config
    };
    let a = Lockout::new(
        Arc::new(RedisLockoutStore::connect(&url).await.unwrap()),
        wide,
    );
    let b = Lockout::new(
        Arc::new(RedisLockoutStore::connect(&url).await.unwrap()),
        wide,
    );
    let who = format!("bob.{}@example.com", run_id());
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
            let who = who.clone();
            tokio::spawn(async move { instance.record_failure(&who).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        a.check(&who).await.unwrap(),
        LockState::Open { failures: 100 }
    );
    a.clear(&who).await.unwrap();
}
