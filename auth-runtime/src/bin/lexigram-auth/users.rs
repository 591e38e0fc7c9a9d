//! `users create|list|disable`, on the store of `stores.users`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use lexigram_auth::authn::{AuthenticationService, Created, NewUser, User, UserStore};
use lexigram_auth::config::StoreBackend;
use lexigram_auth::error::AccountError;
use lexigram_auth::password::PasswordContext;

use crate::Global;
use crate::exit::{CliError, Kind, Outcome};
use crate::password::read_password;
use crate::roles::unknown_role;
use crate::{load, stores, token};

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Creates a user; the password is read from standard input and must
    /// pass the configured password policy. Prints the new user's id.
    Create {
        /// The e-mail address (the login name).
        #[arg(long)]
        email: String,
        /// The display name.
        #[arg(long)]
        name: String,
        /// Roles, comma-separated; default `rbac.default_role`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Mark the e-mail address as verified.
        #[arg(long)]
        verified: bool,
        /// Create the account without a password (federated sign-in only);
        /// standard input is not read.
        #[arg(long)]
        no_password: bool,
    },
    /// Lists users, oldest first: id, e-mail, name, roles, state.
    List {
        /// How many users to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many users to list at most.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Disables an account: it can no longer sign in, its tokens are revoked
    /// (in `stores.revocation`) and its sessions ended (in `stores.sessions`,
    /// when that is not `memory`). Exit 1 for an unknown user.
    Disable {
        /// The user's id or e-mail address.
        user: String,
    },
}

pub(crate) async fn run(global: &Global, command: UsersCommand) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let config = &checked.config;
    match command {
        UsersCommand::Create {
            email,
            name,
            roles,
            verified,
            no_password,
        } => {
            let authz = config.authorization_service()?;
            let graph = authz.graph();
            let roles = if roles.is_empty() {
                vec![config.rbac.default_role.clone()]
            } else {
                roles
            };
            for role in &roles {
                if !graph.has_role(role) {
                    return Err(unknown_role(role, graph.role_names()));
                }
            }
            let hash = if no_password {
                None
            } else {
                let policy = config.password_policy()?;
                let hasher = config.password_hasher()?;
                let password = read_password()?;
                if let Err(violations) =
                    policy.validate(&password, &PasswordContext::new().email(&email))
                {
                    return Err(CliError::refused(format!(
                        "the password is refused by the policy: {violations}"
                    )));
                }
                Some(hasher.hash(password.as_bytes()).await.map_err(|e| {
                    CliError::system(format!("the password could not be hashed: {e}"))
                })?)
            };
            let store = stores::user_store(config).await?;
            let mut new = NewUser::new(email.clone(), name).with_roles(roles);
            new.verified = verified;
            if let Some(hash) = hash {
                new = new.with_password_hash(hash);
            }
            match store
                .create_user(&new, now())
                .await
                .map_err(|e| CliError::store("the user store", &e))?
            {
                Created::Created(user) => {
                    println!("{}", user.id);
                    Ok(Outcome::Success)
                }
                Created::EmailTaken => Err(CliError::refused(format!(
                    "a user with the e-mail address `{email}` exists already"
                ))),
            }
        }
        UsersCommand::List { offset, limit } => {
            let store = stores::user_store(config).await?;
            let users = store
                .list_users(offset, limit)
                .await
                .map_err(|e| CliError::store("the user store", &e))?;
            println!("id\temail\tname\troles\tstate");
            for user in &users {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    user.id,
                    user.email,
                    user.name,
                    user.roles.join(","),
                    state(user)
                );
            }
            let total = store
                .count_users()
                .await
                .map_err(|e| CliError::store("the user store", &e))?;
            eprintln!("{} of {total} users", users.len());
            Ok(Outcome::Success)
        }
        UsersCommand::Disable { user } => {
            let users = stores::user_store(config).await?;
            let Some(found) = find_user(&users, &user).await? else {
                return Err(CliError::refused(format!("no user `{user}`")));
            };
            let tokens = token::manager_with_revocation(config).await?;
            let hasher = config.password_hasher()?;
            let mut service = AuthenticationService::new(Arc::clone(&users), hasher, tokens);
            if config.stores.sessions.backend() == StoreBackend::Memory {
                eprintln!(
                    "warning: `auth.stores.sessions` is `memory`: sessions live in the application's memory and end when it restarts"
                );
            } else {
                service = service.sessions(stores::session_manager(config).await?);
            }
            if config.stores.revocation.backend() == StoreBackend::Memory {
                eprintln!(
                    "warning: `auth.stores.revocation` is `memory`: tokens already issued stay valid until they expire"
                );
            }
            match service.disable_user(&found.id).await {
                Ok(true) => {
                    println!("disabled {} ({})", found.id, found.email);
                    Ok(Outcome::Success)
                }
                Ok(false) => Err(CliError::refused(format!("no user `{user}`"))),
                Err(AccountError::Unavailable) => Err(CliError {
                    kind: Kind::Store,
                    message: "a store could not answer; the account may be disabled with some tokens or sessions still live: run the command again".to_owned(),
                }),
                Err(error) => Err(CliError::refused(format!(
                    "the account could not be disabled: {error}"
                ))),
            }
        }
    }
}

fn state(user: &User) -> &'static str {
    match (user.active, user.verified) {
        (false, _) => "disabled",
        (true, true) => "active",
        (true, false) => "active,unverified",
    }
}

/// A user by id, or by e-mail address when `user` has an `@`.
pub(crate) async fn find_user(
    store: &Arc<dyn UserStore>,
    user: &str,
) -> Result<Option<User>, CliError> {
    let found = if user.contains('@') {
        store.user_by_email(user).await
    } else {
        store.user_by_id(user).await
    };
    found.map_err(|e| CliError::store("the user store", &e))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
