//! `token mint`, `token verify`, `token inspect`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Subcommand;
use lexigram_auth::Principal;
use lexigram_auth::authz::Permission;
use lexigram_auth::config::{AuthConfig, parse_duration};
use lexigram_auth::token::{JwtTokenManager, MAX_TOKEN_BYTES, VerifiedToken};

use crate::Global;
use crate::exit::{CliError, Outcome};
use crate::roles::unknown_role;
use crate::{load, stores};

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Signs an access token with the configured current key and prints it.
    Mint {
        /// The subject (`sub`): the user id.
        #[arg(long)]
        sub: String,
        /// Roles, comma-separated; each must be defined in `roles`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Direct permissions, comma-separated.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
        /// The lifetime (`15m`, `1h`, `300s`); default `token.access_ttl`.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Verifies an access token against the configured keys, issuer,
    /// audience and revocation store; exit 0 if valid, 1 with the reason
    /// code if not.
    Verify {
        /// The token; `-` or nothing reads it from standard input.
        token: Option<String>,
    },
    /// Decodes a token's header and claims WITHOUT verifying anything.
    Inspect {
        /// The token; `-` or nothing reads it from standard input.
        token: Option<String>,
    },
}

pub(crate) async fn run(global: &Global, command: TokenCommand) -> Result<Outcome, CliError> {
    match command {
        TokenCommand::Mint {
            sub,
            roles,
            permissions,
            ttl,
        } => mint(global, &sub, &roles, &permissions, ttl),
        TokenCommand::Verify { token } => verify(global, &token_text(token)?).await,
        TokenCommand::Inspect { token } => inspect(&token_text(token)?),
    }
}

fn mint(
    global: &Global,
    sub: &str,
    roles: &[String],
    permissions: &[String],
    ttl: Option<Duration>,
) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let config = &checked.config;
    if sub.is_empty() {
        return Err(CliError::refused("`--sub` is empty"));
    }
    let authz = config.authorization_service()?;
    let graph = authz.graph();
    for role in roles {
        if !graph.has_role(role) {
            return Err(unknown_role(role, graph.role_names()));
        }
    }
    for permission in permissions {
        permission
            .parse::<Permission>()
            .map_err(|e| CliError::refused(format!("`--permissions {permission}`: {e}")))?;
    }
    let mut builder = config.token_manager_builder()?;
    if let Some(ttl) = ttl {
        if ttl.is_zero() {
            return Err(CliError::refused("`--ttl` must be longer than zero"));
        }
        builder = builder.access_ttl(ttl);
    }
    let manager = builder
        .build()
        .map_err(|e| CliError::from(lexigram_auth::error::ConfigError::Token(e)))?;
    let principal = Principal::new(sub)
        .with_roles(roles.iter().map(String::as_str))
        .with_permissions(permissions.iter().map(String::as_str));
    let token = manager
        .sign_access(&principal)
        .map_err(|e| CliError::refused(format!("the token could not be signed: {e}")))?;
    println!("{token}");
    Ok(Outcome::Success)
}

async fn verify(global: &Global, token: &str) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let manager = manager_with_revocation(&checked.config).await?;
    match manager.verify_token(token).await {
        Ok(verified) => {
            println!("valid");
            print_verified(&verified);
            Ok(Outcome::Success)
        }
        Err(lexigram_auth::error::TokenError::Unavailable) => Err(CliError {
            kind: crate::exit::Kind::Store,
            message: "the revocation store (`auth.stores.revocation`) is unavailable: the token's revocation cannot be checked".to_owned(),
        }),
        Err(error) => {
            println!("invalid: {} ({error})", error.code());
            Ok(Outcome::Negative)
        }
    }
}

/// The configured token manager over the configured revocation store.
pub(crate) async fn manager_with_revocation(
    config: &AuthConfig,
) -> Result<JwtTokenManager, CliError> {
    let mut builder = config.token_manager_builder()?;
    if let Some(store) = stores::revocation_store(config).await? {
        builder = builder.revocation_store(store);
    }
    builder
        .build()
        .map_err(|e| CliError::from(lexigram_auth::error::ConfigError::Token(e)))
}

fn print_verified(token: &VerifiedToken) {
    println!("  sub:         {}", token.user_id);
    println!("  kid:         {}", token.kid);
    println!("  jti:         {}", token.jti);
    println!("  iat:         {}", token.iat);
    println!("  exp:         {}", token.exp);
    if let Some(issuer) = &token.issuer {
        println!("  iss:         {issuer}");
    }
    if !token.audience.is_empty() {
        println!("  aud:         {}", token.audience.join(", "));
    }
    println!("  roles:       {}", token.roles.join(", "));
    println!("  permissions: {}", token.permissions.join(", "));
    if !token.scopes.is_empty() {
        println!("  scope:       {}", token.scopes.join(" "));
    }
}

fn inspect(token: &str) -> Result<Outcome, CliError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, _signature] = parts.as_slice() else {
        return Err(CliError::refused(format!(
            "not a compact JWS: it has {} dot-separated segments, a JWS has 3",
            parts.len()
        )));
    };
    println!("UNVERIFIED: decoded only; the signature and the claims were NOT checked");
    println!("header:");
    println!("{}", decode_segment("header", header)?);
    println!("claims:");
    println!("{}", decode_segment("claims", claims)?);
    Ok(Outcome::Success)
}

fn decode_segment(what: &str, segment: &str) -> Result<String, CliError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| CliError::refused(format!("the {what} is not base64url")))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| CliError::refused(format!("the {what} is not JSON")))?;
    serde_json::to_string_pretty(&value)
        .map_err(|_| CliError::refused(format!("the {what} cannot be printed")))
}

/// The token argument, or one line of standard input for `-` or none.
fn token_text(token: Option<String>) -> Result<String, CliError> {
    let text = match token.as_deref() {
        Some("-") | None => {
            let mut line = String::new();
            let mut reader =
                std::io::Read::take(std::io::stdin().lock(), MAX_TOKEN_BYTES as u64 + 2);
            std::io::BufRead::read_line(&mut reader, &mut line)
                .map_err(|e| CliError::system(format!("standard input could not be read: {e}")))?;
            line
        }
        Some(token) => token.to_owned(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::refused("no token given"));
    }
    Ok(text.to_owned())
}
