//! Authentication events (AUTHN-7): what happened, sent to an [`EventSink`].
//!
//! Every step of the account life cycle emits one [`AuthEvent`]. The default
//! sink, [`TracingSink`], logs them through `tracing` (target
//! `lexigram_auth::events`); [`ChannelSink`] hands them to a Tokio-free
//! channel for tests and audit pipelines. Events carry ids, never secrets:
//! no password, token or API-key secret is ever part of one.

use std::fmt;
use std::net::IpAddr;
use std::sync::mpsc;

use serde::Serialize;

/// Why a login failed, as far as the event (not the caller) is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureReason {
    /// No user has this identifier.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The account is inactive.
    Inactive,
    /// The account is locked.
    Locked,
    /// The password was right, but the login named a tenant the account is
    /// not a member of.
    NotAMember,
}

/// Something that happened to an account or a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthEvent {
    /// A login succeeded.
    LoginSucceeded {
        /// The user.
        user_id: String,
        /// The client address, when known.
        ip: Option<IpAddr>,
    },
    /// A login failed. `identifier` is the normalised login identifier as
    /// given (the account may not exist).
    LoginFailed {
        /// The normalised identifier tried.
        identifier: String,
        /// Why.
        reason: FailureReason,
        /// The client address, when known.
        ip: Option<IpAddr>,
    },
    /// An account reached the failure limit and is locked.
    LockedOut {
        /// The normalised identifier.
        identifier: String,
        /// Seconds until the lock ends.
        retry_after: u64,
    },
    /// A user logged out (one token family ended).
    LoggedOut {
        /// The user.
        user_id: String,
    },
    /// A refresh token was exchanged for a new pair.
    TokenRefreshed {
        /// The user.
        user_id: String,
    },
    /// Tokens were revoked: one (`jti`) or all of a user's (`jti` is `None`).
    TokenRevoked {
        /// The user.
        user_id: String,
        /// The revoked token's id, or `None` for all of the user's tokens.
        jti: Option<String>,
    },
    /// A user's password was changed or reset.
    PasswordChanged {
        /// The user.
        user_id: String,
    },
    /// A user registered.
    UserRegistered {
        /// The new user.
        user_id: String,
    },
    /// A user verified their e-mail address.
    EmailVerified {
        /// The user.
        user_id: String,
    },
    /// A password reset was asked for an existing, active account (a mail
    /// with a reset token went out).
    PasswordResetRequested {
        /// The user.
        user_id: String,
    },
    /// A user's account was disabled: their tokens are revoked and their
    /// sessions ended.
    UserDisabled {
        /// The user.
        user_id: String,
    },
    /// An API key was created.
    ApiKeyCreated {
        /// The key's owner.
        user_id: String,
        /// The key's public id.
        key_id: String,
    },
    /// An API key was revoked.
    ApiKeyRevoked {
        /// The key's owner.
        user_id: String,
        /// The key's public id.
        key_id: String,
    },
    /// A resource check denied
    /// ([`AuthorizationService::check`](crate::authz::AuthorizationService::check)).
    AccessDenied {
        /// The principal's subject.
        subject: String,
        /// The principal's tenant, if any.
        tenant: Option<String>,
        /// What was asked: `article.edit on article/42`.
        requirement: String,
        /// What decided: a policy or rule id, or `tenant` (another
        /// tenant's resource), `default-deny` (nothing allowed),
        /// `unavailable` (the delegation store failed).
        deciding_policy: Option<String>,
    },
    /// A resource check allowed; only emitted when the service audits
    /// allows ([`AuthorizationService::audit_allows`](crate::authz::AuthorizationService::audit_allows)).
    AccessAllowed {
        /// The principal's subject.
        subject: String,
        /// The principal's tenant, if any.
        tenant: Option<String>,
        /// What was asked: `article.edit on article/42`.
        requirement: String,
        /// What decided: a policy or rule id, `rbac` (a role or direct
        /// grant) or `delegation`.
        deciding_policy: Option<String>,
        /// The delegation's id, when one allowed.
        delegation: Option<String>,
    },
}

impl AuthEvent {
    /// The event's stable name (`login_succeeded`, `login_failed`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoginSucceeded { .. } => "login_succeeded",
            Self::LoginFailed { .. } => "login_failed",
            Self::LockedOut { .. } => "locked_out",
            Self::LoggedOut { .. } => "logged_out",
            Self::TokenRefreshed { .. } => "token_refreshed",
            Self::TokenRevoked { .. } => "token_revoked",
            Self::PasswordChanged { .. } => "password_changed",
            Self::UserRegistered { .. } => "user_registered",
            Self::EmailVerified { .. } => "email_verified",
            Self::PasswordResetRequested { .. } => "password_reset_requested",
            Self::UserDisabled { .. } => "user_disabled",
            Self::ApiKeyCreated { .. } => "api_key_created",
            Self::ApiKeyRevoked { .. } => "api_key_revoked",
            Self::AccessDenied { .. } => "access_denied",
            Self::AccessAllowed { .. } => "access_allowed",
        }
    }
}

/// Receives [`AuthEvent`]s. Emitting must not fail or block the request:
/// a sink that forwards elsewhere buffers or drops, and says so itself.
pub trait EventSink: fmt::Debug + Send + Sync {
    /// Takes one event.
    fn emit(&self, event: AuthEvent);
}

/// The default sink: each event as one `tracing` record (target
/// `lexigram_auth::events`; failures and lockouts at `warn`, the rest at
/// `info`), with the event as JSON in the `event` field.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl EventSink for TracingSink {
    fn emit(&self, event: AuthEvent) {
        let json = serde_json::to_string(&event).unwrap_or_default();
        match event {
            AuthEvent::LoginFailed { .. } | AuthEvent::LockedOut { .. } => {
                tracing::warn!(target: "lexigram_auth::events", name = event.name(), event = %json);
            }
            _ => {
                tracing::info!(target: "lexigram_auth::events", name = event.name(), event = %json);
            }
        }
    }
}

/// A sink sending every event into a standard channel; events sent after the
/// receiver is gone are dropped.
///
/// ```
/// use lexigram_auth::authn::{AuthEvent, ChannelSink, EventSink};
///
/// let (sink, events) = ChannelSink::new();
/// sink.emit(AuthEvent::UserRegistered { user_id: "u1".into() });
/// assert_eq!(events.try_recv().unwrap().name(), "user_registered");
/// ```
#[derive(Debug)]
pub struct ChannelSink {
    sender: mpsc::Sender<AuthEvent>,
}

impl ChannelSink {
    /// A sink and the receiving end of its channel.
    #[must_use]
    pub fn new() -> (Self, mpsc::Receiver<AuthEvent>) {
        let (sender, receiver) = mpsc::channel();
        (Self { sender }, receiver)
    }
}

impl EventSink for ChannelSink {
    fn emit(&self, event: AuthEvent) {
        // A gone receiver means nobody listens any more: dropping is right.
        let _ = self.sender.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_name_and_no_secret_fields() {
        let event = AuthEvent::LoginFailed {
            identifier: "a@b.c".into(),
            reason: FailureReason::WrongPassword,
            ip: Some("203.0.113.1".parse().unwrap()),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "login_failed");
        assert_eq!(json["reason"], "wrong_password");
        assert_eq!(json["ip"], "203.0.113.1");
        assert_eq!(event.name(), "login_failed");
        TracingSink.emit(event);
    }

    #[test]
    fn the_channel_sink_forwards_and_survives_a_gone_receiver() {
        let (sink, events) = ChannelSink::new();
        sink.emit(AuthEvent::LoggedOut {
            user_id: "u".into(),
        });
        assert_eq!(
            events.recv().unwrap(),
            AuthEvent::LoggedOut {
                user_id: "u".into()
            }
        );
        drop(events);
        sink.emit(AuthEvent::LoggedOut {
            user_id: "u".into(),
        });
    }
}
