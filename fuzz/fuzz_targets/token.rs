//! Any bytes as a bearer token: verification never panics, and the view
//! and owned paths give the same answer.
#![no_main]

use std::sync::LazyLock;

use lexigram_auth::token::{Algorithm, JwtTokenManager};
use libfuzzer_sys::fuzz_target;

static MANAGER: LazyLock<JwtTokenManager> = LazyLock::new(|| {
    JwtTokenManager::builder()
        .hmac_key("k1", Algorithm::HS256, [7u8; 32])
        .current_key("k1")
        .build()
        .expect("a valid manager")
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let owned = MANAGER.verify_access(token);
    let view = MANAGER.verify_access_with(token, |t| t.user_id().to_owned());
    match (&owned, &view) {
        (Ok(o), Ok(v)) => assert_eq!(&o.user_id, v),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("the view and owned paths disagree: {owned:?} / {view:?}"),
    }
    let _ = MANAGER.verify_refresh(token);
});
