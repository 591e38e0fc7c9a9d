//! Any bytes as `Cookie`, `Origin`, `Sec-Fetch-Site` and `X-CSRF-Token`
//! headers: reading the session cookie and checking CSRF never panic, and a
//! forged cookie is never taken for a signed one.
#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue, Method};
use lexigram_auth::session::{CookieConfig, SessionCookies};
use libfuzzer_sys::fuzz_target;

static COOKIES: LazyLock<SessionCookies> = LazyLock::new(|| {
    SessionCookies::new([9u8; 32], CookieConfig::default()).expect("valid cookies")
});

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let mut headers = HeaderMap::new();
    for name in ["cookie", "origin", "sec-fetch-site", "x-csrf-token", "host"] {
        if let Some(value) = parts.next().and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.append(name, value);
        }
    }
    if let Ok(Some(token)) = COOKIES.session_token(&headers) {
        // Only a cookie this key signed is accepted, and the fuzzer cannot
        // sign: any accepted value would be a forgery.
        panic!("a forged session cookie was accepted: {token:?}");
    }
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let _ = COOKIES.check_csrf(&method, &headers, "session-id");
    }
});
