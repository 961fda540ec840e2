//! E-mailed links (verification, password reset, sign-in), sent through the outbox: on sign-up
//! while the request waits, and on request from a background task once the answer has gone.
//! Security notices (a factor added or removed, a password changed) go the same way.

use std::{sync::Arc, time::Duration};

use lettre::message::Mailbox;

use super::links::{LinkPurpose, LinkSigner, new_sign_in_code, new_token, token_hash};
use crate::{
    domain::{
        EmailAddress, Locale, SIGN_IN_CODE_ATTEMPTS, SharedClock, SignInRequestRecord, UserRecord,
    },
    mail::{
        outbox::Outbox,
        templates::{self, SecurityNotice, SignInLetter},
    },
    store::Store,
};

/// How long a mailed sign-in link and its code stay good.
pub(super) const SIGN_IN_TTL: Duration = Duration::from_secs(10 * 60);

/// What e-mailing a link needs, shared with the background tasks that send links on request.
pub(super) struct LinkMailer {
    pub(super) store: Arc<dyn Store>,
    pub(super) outbox: Arc<Outbox>,
    pub(super) links: LinkSigner,
    pub(super) public_url: String,
    pub(super) unverified_account_ttl: Duration,
    /// `SIGN_UP_BY_LINK`: sign-in links for addresses no verified account has.
    pub(super) sign_up_by_link: bool,
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

    /// Mails a sign-in link and code for the address, if it may sign in by e-mail: to a verified
    /// account; with `SIGN_UP_BY_LINK` also to an unverified one (to confirm it) and to an
    /// address no account has (to make one). The request is stored (hashes only) before the
    /// mail goes, replacing the address's earlier one. Runs after the request was answered, so
    /// failures can only be logged, never with the link or the code.
    pub(super) async fn send_sign_in_link(
        &self,
        typed: &str,
        email_norm: &str,
        return_to: Option<String>,
        request_locale: Locale,
        client_ip: &str,
    ) {
        let account = match self.store.find_user_by_email(email_norm).await {
            Ok(user) => user.filter(|u| !u.is_guest()),
            Err(err) => {
                tracing::error!(error = %err.chain(), "could not look up the account to e-mail a sign-in link to");
                return;
            }
        };
        let (letter, email, user_id, locale, username) = match account {
            Some(user) if user.is_active || self.sign_up_by_link => {
                let Some(credentials) = user.credentials else {
                    return;
                };
                let letter = if user.is_active {
                    SignInLetter::SignIn
                } else {
                    SignInLetter::Confirm
                };
                let username = user.username.to_string();
                (
                    letter,
                    credentials.email,
                    Some(user.id),
                    user.locale,
                    username,
                )
            }
            None if self.sign_up_by_link => match EmailAddress::parse(typed) {
                Ok(email) if email.key() == email_norm => (
                    SignInLetter::SignUp,
                    email,
                    None,
                    request_locale,
                    String::new(),
                ),
                // Not an address anyone can sign up with: nothing to mail.
                _ => return,
            },
            _ => return,
        };
        let now = self.clock.now();
        let token = new_token();
        let code = new_sign_in_code();
        let token_hash = token_hash(&token);
        let request = SignInRequestRecord {
            code_hash: self.links.sign_in_code_tag(email_norm, &token_hash, &code),
            token_hash,
            email,
            email_norm: email_norm.to_owned(),
            user_id,
            return_to,
            locale,
            codes_left: SIGN_IN_CODE_ATTEMPTS,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(SIGN_IN_TTL).expect("ten minutes fit"),
        };
        if let Err(err) = self.store.put_sign_in_request(&request).await {
            tracing::error!(error = %err.chain(), "could not store a sign-in request; no e-mail sent");
            return;
        }
        let user_id = request.user_id.as_ref().map(ToString::to_string);
        tracing::info!(
            target: "audit",
            event = "sign_in_link_requested",
            user_id = user_id.as_deref().unwrap_or_default(),
            sign_up = user_id.is_none(),
            client_ip
        );
        let link = format!("{}/sign-in-link?token={token}", self.public_url);
        let result = async {
            let name = (!username.is_empty()).then(|| username.clone());
            let to = Mailbox::new(name, email_norm.parse()?);
            let email =
                templates::sign_in_link(to, locale, letter, &username, &link, &code, SIGN_IN_TTL);
            self.outbox.send(email).await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(user_id = user_id.unwrap_or_default(), error = %format!("{err:#}"), "sign-in e-mail not sent");
        }
    }
}
