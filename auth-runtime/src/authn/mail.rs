//! Outgoing mail for the account flows: the [`Mailer`] trait, the default
//! [`LoggingMailer`] and the [`ChannelMailer`] for tests.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;

use thiserror::Error;

use super::TokenPurpose;
use crate::store::BoxError;

/// The future [`Mailer::send`] returns.
pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// A message to send: a password-reset link or an e-mail verification
/// link.
///
/// `token` is the one-time token, also written into `body`; it is given
/// apart so that a mailer can render its own template. `Debug` shows
/// neither the body nor the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's (normalised) address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body, holding the token or a link with it.
    pub body: String,
    /// What the mail is for.
    pub purpose: TokenPurpose,
    /// The one-time token itself (a secret: never log it).
    pub token: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// A mail that could not be sent.
#[derive(Debug, Error)]
#[error("the mail could not be sent")]
pub struct MailError {
    #[source]
    source: BoxError,
}

impl MailError {
    /// A failure caused by `source` (the transport's error).
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

/// Sends the account flows' mail (SMTP, an e-mail API, a queue, ...).
///
/// A mailer must not log the body or the token: whoever reads the log could
/// reset the password.
pub trait Mailer: fmt::Debug + Send + Sync {
    /// Sends one mail.
    fn send(&self, mail: Mail) -> MailFuture<'_>;
}

/// The default mailer: sends nothing, and logs at `warn` (target
/// `lexigram_auth::mail`) that a mail would have gone out, with its
/// recipient, subject and purpose, **without** the body or the token.
///
/// Configure a real [`Mailer`] for password reset and e-mail verification
/// to work.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggingMailer;

impl Mailer for LoggingMailer {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        tracing::warn!(
            target: "lexigram_auth::mail",
            to = %mail.to,
            subject = %mail.subject,
            purpose = %mail.purpose,
            "no mailer is configured: the mail was not sent",
        );
        Box::pin(async { Ok(()) })
    }
}

/// A mailer handing every mail to a standard channel, for tests and
/// development tools; mails sent after the receiver is gone are dropped.
///
/// ```
/// use lexigram_auth::authn::{ChannelMailer, Mail, Mailer, TokenPurpose};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lexigram_auth::authn::MailError> {
/// let (mailer, outbox) = ChannelMailer::new();
/// mailer
///     .send(Mail {
///         to: "a@example.com".into(),
///         subject: "Hi".into(),
///         body: "...".into(),
///         purpose: TokenPurpose::EmailVerification,
///         token: "t".into(),
///     })
///     .await?;
/// assert_eq!(outbox.try_recv().unwrap().to, "a@example.com");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ChannelMailer {
    sender: mpsc::Sender<Mail>,
}

impl ChannelMailer {
    /// A mailer and the receiving end of its channel.
    #[must_use]
    pub fn new() -> (Self, mpsc::Receiver<Mail>) {
        let (sender, receiver) = mpsc::channel();
        (Self { sender }, receiver)
    }
}

impl Mailer for ChannelMailer {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        // A gone receiver means nobody reads the outbox any more.
        let _ = self.sender.send(mail);
        Box::pin(async { Ok(()) })
    }
}
