//! `lexigram-auth`: the command-line tool for a lexigram-auth deployment.
//!
//! Every command that needs the configuration reads it the way the
//! application does ([`ConfigLoader`](lexigram_auth::config::ConfigLoader):
//! `${VAR}` substitution, `LEX_AUTH__` overrides) and checks it for the
//! environment. The exit codes are in [`exit`] and in `--help`.

mod doctor;
mod exit;
mod keys;
mod load;
mod password;
mod roles;
mod sessions;
mod stores;
mod token;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lexigram_auth::environment::Environment;

use crate::exit::{CliError, Outcome};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the command ran and the answer is negative or the request was refused:
     doctor found errors, a token did not verify, an unknown role, user or
     session, an e-mail address already taken, a password the policy refuses,
     an output file that already exists
  2  usage error: unknown command or option, missing or malformed argument
  3  the configuration could not be loaded, parsed or checked for the
     environment (or names a store this command cannot use)
  4  a store the configuration names is unavailable or failed
  5  an operating-system failure: reading standard input, writing a file,
     drawing random bytes";

/// Administers lexigram-auth: checks configuration, generates secrets and
/// keys, hashes passwords, mints and checks tokens, explains roles, manages
/// users and sessions.
#[derive(Debug, Parser)]
#[command(name = "lexigram-auth", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from.
#[derive(Debug, Args)]
struct Global {
    /// The configuration file (`.yaml`, `.yml` or `.toml`, with an `auth`
    /// section).
    #[arg(
        long,
        global = true,
        env = "LEXIGRAM_AUTH_CONFIG",
        default_value = "application.yaml"
    )]
    config: PathBuf,
    /// The environment to check the configuration for: development, test,
    /// staging or production. Default: `LEX_ENV`, and production when that
    /// is unset.
    #[arg(long = "env", global = true, value_parser = parse_environment)]
    environment: Option<Environment>,
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text)
        .map_err(|_| format!("`{text}` is not one of development, test, staging or production"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks the configuration for the environment and explains each problem
    /// with its key path and the fix; exit 1 when there are errors.
    Doctor,
    /// Prints a random secret (base64url), for `secret_key` or a cookie key.
    GenSecret(keys::GenSecret),
    /// Writes a new signing key pair: the private key (PEM, mode 0600), the
    /// public key (PEM) and the public JWK.
    GenKeypair(keys::GenKeypair),
    /// Reads a password from standard input and prints its Argon2id hash
    /// (PHC string) with the configured parameters.
    ///
    /// The password is never taken as an argument: arguments are visible to
    /// other users in the process list and are kept in shell history.
    HashPassword,
    /// Mints, verifies or decodes tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Explains the role hierarchy.
    #[command(subcommand)]
    Roles(roles::RolesCommand),
    /// Manages users in the configured user store (`stores.users`).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manages sessions in the configured session store (`stores.sessions`).
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = run(cli);
    match outcome {
        Ok(Outcome::Success) => ExitCode::from(exit::SUCCESS),
        Ok(Outcome::Negative) => ExitCode::from(exit::NEGATIVE),
        Err(error) => {
            eprintln!("error: {}", error.message);
            ExitCode::from(error.kind.code())
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Doctor => doctor::run(global),
        Command::GenSecret(args) => keys::gen_secret(&args),
        Command::GenKeypair(args) => keys::gen_keypair(&args),
        Command::HashPassword => block_on(password::hash_password(global)),
        Command::Token(command) => block_on(token::run(global, command)),
        Command::Roles(command) => roles::run(global, &command),
        Command::Users(command) => block_on(users::run(global, command)),
        Command::Sessions(command) => block_on(sessions::run(global, command)),
    }
}

/// Runs `future` on a single-threaded runtime: password hashing goes to its
/// blocking pool, the stores' I/O to its drivers.
fn block_on<F: Future<Output = Result<Outcome, CliError>>>(future: F) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::system(format!("the async runtime could not start: {e}")))?;
    runtime.block_on(future)
}
