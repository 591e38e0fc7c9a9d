//! `doctor`: every problem of a configuration for an environment, each with
//! its key path and the fix; warnings apart; a summary line.

use lexigram_auth::config::{AuthConfig, ConfigWarning};
use lexigram_auth::environment::Environment;
use lexigram_auth::error::{ConfigError, ConfigIssue};

use crate::Global;
use crate::exit::{CliError, Outcome};
use crate::load;

pub(crate) fn run(global: &Global) -> Result<Outcome, CliError> {
    let environment = load::environment(global)?;
    println!("checking `{}` for {environment}", global.config.display());
    let config = match load::read(global) {
        Ok(config) => config,
        Err(error) => {
            // Nothing to validate: report why the file cannot be read.
            println!();
            if error.issues().is_empty() {
                println!("error: {error}");
            } else {
                for issue in error.issues() {
                    print_issue(issue);
                }
            }
            println!();
            println!(
                "summary: the configuration could not be read ({})",
                error.code()
            );
            return Err(CliError {
                kind: crate::exit::Kind::Config,
                message: format!("`{}` could not be read", global.config.display()),
            });
        }
    };
    let (errors, warnings) = diagnose(config, environment);
    if !errors.is_empty() {
        println!();
        for issue in &errors {
            print_issue(issue);
        }
    }
    if !warnings.is_empty() {
        println!();
        for warning in &warnings {
            println!("warning: {}", warning.path);
            println!("  {}", warning.message);
        }
    }
    println!();
    let counts = format!(
        "{} {}, {} {}",
        errors.len(),
        plural(errors.len(), "error", "errors"),
        warnings.len(),
        plural(warnings.len(), "warning", "warnings"),
    );
    if errors.is_empty() {
        println!("summary: {counts}: the configuration is usable in {environment}");
        Ok(Outcome::Success)
    } else {
        println!("summary: {counts}: the application would refuse to start in {environment}");
        Ok(Outcome::Negative)
    }
}

/// What the application would see: [`AuthConfig::check`] (which draws a
/// random secret in development and test), then the conversions the
/// application builds from a checked configuration, each of which could
/// still refuse it.
fn diagnose(
    config: AuthConfig,
    environment: Environment,
) -> (Vec<ConfigIssue>, Vec<ConfigWarning>) {
    let (errors, warnings) = config.diagnose(environment);
    if !errors.is_empty() {
        return (errors, warnings);
    }
    let checked = match config.check(environment) {
        Ok(checked) => checked,
        Err(errors) => return (errors.issues().to_vec(), warnings),
    };
    let c = &checked.config;
    let attempts: [Result<(), ConfigError>; 6] = [
        c.token_manager().map(drop),
        c.password_hasher().map(drop),
        c.password_policy().map(drop),
        c.authorization_service().map(drop),
        c.login_quota().map(drop),
        c.trusted_proxies().map(drop),
    ];
    let mut errors = Vec::new();
    for error in attempts.into_iter().filter_map(Result::err) {
        if error.issues().is_empty() {
            errors.push(ConfigIssue::new(
                "auth",
                error.to_string(),
                "see the key table in `lexigram_auth::docs::config`",
            ));
        } else {
            errors.extend(error.issues().iter().cloned());
        }
    }
    (errors, checked.warnings)
}

fn print_issue(issue: &ConfigIssue) {
    println!("error: {}", issue.path);
    println!("  problem: {}", issue.problem);
    println!("  fix:     {}", issue.fix);
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
