//! E-mailed links (verification, password reset), sent through the outbox: on sign-up while the
//! request waits, and on request from a background task once the answer has gone. Security
//! notices (a factor added or removed, a password changed) go the same way.

use std::{sync::Arc, time::Duration};

use lettre::message::Mailbox;

use super::links::{LinkPurpose, LinkSigner};
use crate::{
    domain::SharedClock,
    domain::UserRecord,
    mail::{
        outbox::Outbox,
        templates::{self, SecurityNotice},
    },
    store::Store,
};

/// What e-mailing a link needs, shared with the background tasks that send links on request.
pub(super) struct LinkMailer {
    pub(super) store: Arc<dyn Store>,
    pub(super) outbox: Arc<Outbox>,
    pub(super) links: LinkSigner,
    pub(super) public_url: String,
    pub(super) unverified_account_ttl: Duration,
    pub(super) clock: SharedClock,
}

impl LinkMailer {
    /// The e-mail goes through the outbox, so a mail server that is down delays it but does not
    /// lose it; only a failure to store it is logged here (the user can ask again).
    pub(super) async fn send(&self, user: &UserRecord, purpose: LinkPurpose) {
        let Some(credentials) = &user.credentials else {
            // A guest has no address: nothing to send (no flow asks to).
            return;
        };
        let token = self.links.make(purpose, user, self.clock.now());
        let page = match purpose {
            LinkPurpose::VerifyEmail => "verify-email",
            LinkPurpose::ResetPassword => "reset-password",
        };
        let link = format!("{}/{page}?uid={}&token={}", self.public_url, user.id, token);
        let result = async {
            // To the canonical address: the one uniqueness and the rate limits are about.
            let to = Mailbox::new(
                Some(user.username.to_string()),
                credentials.email_norm.parse()?,
            );
            let email = match purpose {
                LinkPurpose::VerifyEmail => templates::verification(
                    to,
                    user.locale,
                    user.username.as_str(),
                    &link,
                    self.unverified_account_ttl,
                ),
                LinkPurpose::ResetPassword => {
                    templates::password_reset(to, user.locale, user.username.as_str(), &link)
                }
            };
            self.outbox.send(email).await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(user_id = %user.id, ?purpose, error = %format!("{err:#}"), "e-mail not sent");
        }
    }

    /// Tells the owner of `user` what changed. Like links, stored in the outbox before the
    /// first attempt; only a failure to store it is logged (by user id and kind).
    pub(super) async fn notify(&self, user: &UserRecord, notice: SecurityNotice) {
        let Some(credentials) = &user.credentials else {
            return;
        };
        let result = async {
            let to = Mailbox::new(
                Some(user.username.to_string()),
                credentials.email_norm.parse()?,
            );
            let email =
                templates::security_notice(to, user.locale, user.username.as_str(), &notice);
            self.outbox.send(email).await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(user_id = %user.id, ?notice, error = %format!("{err:#}"), "security notice not sent");
        }
    }

    /// Mails the link to the account with this address, if there is one that needs it: an
    /// inactive account a verification link, an active one a reset link. Runs after the request
    /// was answered, so failures can only be logged (by user id and cause, never the link).
    pub(super) async fn send_if_registered(
        &self,
        email_norm: &str,
        purpose: LinkPurpose,
        client_ip: &str,
    ) {
        let wanted_active = purpose == LinkPurpose::ResetPassword;
        let user = match self.store.find_user_by_email(email_norm).await {
            Ok(user) => user.filter(|u| u.is_active == wanted_active && !u.is_guest()),
            Err(err) => {
                tracing::error!(?purpose, error = %err.chain(), "could not look up the account to e-mail a link to");
                return;
            }
        };
        let Some(user) = user else { return };
        if purpose == LinkPurpose::ResetPassword {
            tracing::info!(target: "audit", event = "password_reset_requested", user_id = %user.id, client_ip);
        }
        self.send(&user, purpose).await;
    }
}
