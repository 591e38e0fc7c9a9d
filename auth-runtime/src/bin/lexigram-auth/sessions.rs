//! `sessions list|revoke`, on the store of `stores.sessions`.

use clap::Subcommand;
use lexigram_auth::config::AuthConfig;

use crate::Global;
use crate::exit::{CliError, Outcome};
use crate::{load, stores, users};

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// Lists a user's live sessions, most recently active first: session id,
    /// times (Unix seconds), address and user agent.
    List {
        /// The user's id, or e-mail address (looked up in `stores.users`).
        user: String,
    },
    /// Ends one session of a user (by its id, as `sessions list` shows it),
    /// or all of them with `--all`. Exit 1 when there was no such live
    /// session.
    Revoke {
        /// The user's id, or e-mail address (looked up in `stores.users`).
        user: String,
        /// The session id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        session: Option<String>,
        /// End every session of the user.
        #[arg(long)]
        all: bool,
    },
}

pub(crate) async fn run(global: &Global, command: SessionsCommand) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let config = &checked.config;
    let sessions = stores::session_manager(config).await?;
    let failed = |e: lexigram_auth::error::SessionError| CliError {
        kind: crate::exit::Kind::Store,
        message: format!("the session store: {e}"),
    };
    match command {
        SessionsCommand::List { user } => {
            let user_id = user_id(config, &user).await?;
            let list = sessions.list(&user_id).await.map_err(failed)?;
            println!("session\tcreated\tlast_active\texpires\tip\tuser_agent");
            for session in &list {
                let r = session.record();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    session.id(),
                    r.created_at,
                    r.last_active_at,
                    r.idle_expires_at.min(r.expires_at),
                    r.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                    r.user_agent.as_deref().unwrap_or("-"),
                );
            }
            eprintln!("{} live sessions of {user_id}", list.len());
            Ok(Outcome::Success)
        }
        SessionsCommand::Revoke { user, session, all } => {
            let user_id = user_id(config, &user).await?;
            if all {
                let ended = sessions.revoke_all(&user_id).await.map_err(failed)?;
                println!("ended {ended} sessions of {user_id}");
                return Ok(Outcome::Success);
            }
            let Some(session) = session else {
                return Err(CliError::refused("give a session id or `--all`"));
            };
            if sessions
                .revoke_id(&user_id, &session)
                .await
                .map_err(failed)?
            {
                println!("ended session {session} of {user_id}");
                Ok(Outcome::Success)
            } else {
                println!("no live session {session} of {user_id}");
                Ok(Outcome::Negative)
            }
        }
    }
}

/// `user` itself, or the id of the user with that e-mail address.
async fn user_id(config: &AuthConfig, user: &str) -> Result<String, CliError> {
    if !user.contains('@') {
        return Ok(user.to_owned());
    }
    let store = stores::user_store(config).await?;
    match users::find_user(&store, user).await? {
        Some(found) => Ok(found.id),
        None => Err(CliError::refused(format!("no user `{user}`"))),
    }
}
