//! Any text as a permission and as a grant: parsing never panics, and what
//! parses prints back to a string that parses to the same value.
#![no_main]

use lexigram_auth::authz::{Grant, Permission};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(permission) = text.parse::<Permission>() {
        let again: Permission = permission.to_string().parse().expect("round trip");
        assert_eq!(again, permission);
    }
    if let Ok(grant) = text.parse::<Grant>() {
        let again: Grant = grant.to_string().parse().expect("round trip");
        assert_eq!(again, grant);
    }
});
