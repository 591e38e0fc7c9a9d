//! Any text as a YAML and as a TOML configuration: loading and checking
//! never panic (every problem is a `ConfigError`).
#![no_main]

use lexigram_auth::config::AuthConfig;
use lexigram_auth::environment::Environment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = AuthConfig::from_yaml_str(text) {
        let _ = config.validate(Environment::Production);
        let _ = config.clone().check(Environment::Development);
    }
    if let Ok(config) = AuthConfig::from_toml_str(text) {
        let _ = config.check(Environment::Production);
    }
});
