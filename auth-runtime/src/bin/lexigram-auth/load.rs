//! Reading the configuration the way the application does.

use lexigram_auth::config::{AuthConfig, CheckedConfig, ConfigLoader};
use lexigram_auth::environment::Environment;
use lexigram_auth::error::ConfigError;

use crate::Global;
use crate::exit::CliError;

/// `--env`, else `LEX_ENV` (unset is production).
pub(crate) fn environment(global: &Global) -> Result<Environment, CliError> {
    match global.environment {
        Some(environment) => Ok(environment),
        None => Ok(ConfigLoader::new().environment()?),
    }
}

/// The file named by `--config`, read with `${VAR}` substitution and
/// `LEX_AUTH__` overrides from the process environment, not yet checked.
pub(crate) fn read(global: &Global) -> Result<AuthConfig, ConfigError> {
    ConfigLoader::new().file(&global.config)
}

/// As [`read`], with a hint when the default file is missing.
pub(crate) fn read_for_cli(global: &Global) -> Result<AuthConfig, CliError> {
    read(global).map_err(|error| {
        let missing = matches!(error, ConfigError::Read { .. }) && !global.config.exists();
        let mut cli = CliError::from(error);
        if missing {
            cli.message.push_str(
                "\n(pass `--config FILE` or set LEXIGRAM_AUTH_CONFIG; the default is `application.yaml` in the current directory)",
            );
        }
        cli
    })
}

/// The configuration checked for the environment, as the application would
/// start with it; its warnings go to standard error.
pub(crate) fn checked(global: &Global) -> Result<CheckedConfig, CliError> {
    let environment = environment(global)?;
    let config = read_for_cli(global)?;
    let checked = config
        .check(environment)
        .map_err(|errors| CliError::from(ConfigError::from(errors)))?;
    for warning in &checked.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(checked)
}
