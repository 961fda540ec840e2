//! `changeEmail`: the address changes only once the new one is confirmed (`confirmEmailChange`,
//! with the link mailed to it), and the old one is told, with a link (`undoEmailChange`) that
//! for a week cancels the change or puts the old address back and ends every session: whoever
//! stole a session and the password cannot quietly take the account's mailbox with them.

use lettre::message::Mailbox;

use super::AuthService;
use crate::{
    auth::{
        link_mailer::LinkMailer,
        links::{new_token, token_hash},
        tokens::Claims,
    },
    domain::{AppError, AppResult, ClientInfo, EmailAddress, EmailChangeRecord, MessageKey},
    domain::{EMAIL_CHANGE_CONFIRM_TTL, EMAIL_CHANGE_UNDO_TTL, GUESTS_CANNOT, UserRecord},
    mail::templates,
    ratelimit::Bucket,
    store::{StoreError, StoreResult},
};

/// The field a `CONFLICT` names: the address asked for (`newEmail`), or the one an undo would
/// put back (`email`).
const NEW_EMAIL: &str = "newEmail";
const OLD_EMAIL: &str = "email";

impl AuthService {
    /// Asks to change the caller's address to `new_email`, after a recent proof of who they
    /// are: the same rules and mail limits as a sign-up's address, and not one a verified
    /// account holds (`CONFLICT`). Stores the change (hashes only), replacing an earlier one,
    /// and mails both links. Refused (`RATE_LIMITED`) while a confirmed change can still be
    /// undone: replacing it would kill the undo link its old address holds, so whoever took the
    /// account could not be thrown out by changing the address once more.
    pub async fn change_email(
        &self,
        claims: &Claims,
        new_email: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.recently_authenticated(claims).await?;
        let Some(current) = user.credentials.as_ref() else {
            return Err(AppError::AccountRequired {
                message: GUESTS_CANNOT,
            });
        };
        let new_email = EmailAddress::parse(new_email).map_err(|e| e.for_field(NEW_EMAIL))?;
        let new_email_norm = new_email.key();
        if new_email_norm == current.email_norm {
            return Err(AppError::bad_input(NEW_EMAIL, MessageKey::EmailUnchanged));
        }
        let now = self.clock.now();
        if let Some(undoable) = self
            .store
            .find_email_change(&user.id)
            .await?
            .filter(|c| c.confirmed_at.is_some() && c.expires_at > now)
        {
            let wait = (undoable.expires_at - now).num_seconds().max(1);
            return Err(AppError::RateLimited {
                retry_after_secs: u64::try_from(wait).unwrap_or(1),
            });
        }
        self.throttle
            .check(Bucket::MailClient, &client.key(), Some(&user.id), client)
            .await?;
        self.throttle
            .check(Bucket::MailAddress, &new_email_norm, Some(&user.id), client)
            .await?;
        if self
            .store
            .find_user_by_email(&new_email_norm)
            .await?
            .is_some_and(|holder| holder.is_active && holder.id != user.id)
        {
            return Err(AppError::Conflict { field: NEW_EMAIL });
        }
        let (confirm_token, undo_token) = (new_token(), new_token());
        let change = EmailChangeRecord {
            user_id: user.id.clone(),
            old_email: current.email.clone(),
            old_email_norm: current.email_norm.clone(),
            new_email,
            new_email_norm,
            confirm_token_hash: Some(token_hash(&confirm_token)),
            undo_token_hash: token_hash(&undo_token),
            created_at: now,
            confirm_expires_at: now + EMAIL_CHANGE_CONFIRM_TTL,
            expires_at: now + EMAIL_CHANGE_UNDO_TTL,
            confirmed_at: None,
        };
        self.store.put_email_change(&change).await?;
        tracing::info!(target: "audit", event = "email_change_requested", user_id = %user.id, client_ip = %client.key());
        self.mailer
            .send_email_change(&user, &change, &confirm_token, &undo_token)
            .await;
        Ok(())
    }

    /// Gives the account the new address, from the link mailed to it. `INVALID_TOKEN` for a
    /// link that is unknown, used, lapsed, replaced by a newer request or undone; `CONFLICT`
    /// when a verified account took the address meanwhile (the link is used up either way).
    /// The account stays verified; sign-in and reset links mailed to the old address die.
    pub async fn confirm_email_change(&self, token: &str, client: &ClientInfo) -> AppResult<()> {
        let now = self.clock.now();
        let Some(change) = self
            .store
            .use_email_change_confirmation(&token_hash(token), now)
            .await?
        else {
            return Err(AppError::InvalidToken);
        };
        let id = &change.user_id;
        let moved = self
            .store
            .change_user_email(
                id,
                &change.old_email_norm,
                &change.new_email,
                &change.new_email_norm,
            )
            .await;
        if !conflict_as(moved, NEW_EMAIL)? {
            // The account is gone, or has another address than the one it asked to leave.
            return Err(AppError::InvalidToken);
        }
        if !self
            .store
            .mark_email_change_confirmed(id, &change.undo_token_hash, now)
            .await?
        {
            // Undone (or replaced) between the two steps: the undo wins, so the old address
            // goes back.
            self.store
                .change_user_email(
                    id,
                    &change.new_email_norm,
                    &change.old_email,
                    &change.old_email_norm,
                )
                .await?;
            return Err(AppError::InvalidToken);
        }
        self.store
            .drop_sign_in_request(&change.old_email_norm)
            .await?;
        tracing::info!(target: "audit", event = "email_changed", user_id = %id, client_ip = %client.key());
        Ok(())
    }

    /// From the link mailed to the old address, within a week of the request: cancels the
    /// change, or puts the old address back once it was made (`CONFLICT`, changing nothing,
    /// when a verified account took it meanwhile), and ends every session of the account at
    /// once. The confirmation link dies with it.
    pub async fn undo_email_change(&self, token: &str, client: &ClientInfo) -> AppResult<()> {
        let Some(change) = self
            .store
            .take_email_change_undo(&token_hash(token), self.clock.now())
            .await?
        else {
            return Err(AppError::InvalidToken);
        };
        let id = &change.user_id;
        if change.confirmed_at.is_some() {
            let back = self
                .store
                .change_user_email(
                    id,
                    &change.new_email_norm,
                    &change.old_email,
                    &change.old_email_norm,
                )
                .await;
            match conflict_as(back, OLD_EMAIL) {
                // `false`: the account no longer has the new address; there is nothing to
                // put back, and its sessions still end.
                Ok(_) => {}
                Err(err) => {
                    // Kept, so that the link can be used again once the address is free.
                    self.store.put_email_change(&change).await?;
                    return Err(err);
                }
            }
            self.store
                .drop_sign_in_request(&change.new_email_norm)
                .await?;
        }
        let ended = self.store.remove_sessions(id, None).await?;
        self.live.ended_all(id, None);
        tracing::info!(target: "audit", event = "email_change_undone", user_id = %id, was_confirmed = change.confirmed_at.is_some(), sessions_ended = ended, client_ip = %client.key());
        Ok(())
    }
}

/// A store's `Conflict` on the address as `CONFLICT` on `field`.
fn conflict_as(result: StoreResult<bool>, field: &'static str) -> AppResult<bool> {
    match result {
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict { field }),
        other => Ok(other?),
    }
}

impl LinkMailer {
    /// Mails the confirmation link to the new address and the notice with the undo link to
    /// the old one, through the outbox; only a failure to store one is logged (never a link).
    async fn send_email_change(
        &self,
        user: &UserRecord,
        change: &EmailChangeRecord,
        confirm_token: &str,
        undo_token: &str,
    ) {
        let name = || Some(user.username.to_string());
        let lasts = |ttl: chrono::Duration| ttl.to_std().unwrap_or_default();
        let confirm = async {
            let link = format!(
                "{}/confirm-email-change?token={confirm_token}",
                self.public_url
            );
            // To canonical addresses, as every mail: the ones uniqueness is about.
            let to = Mailbox::new(name(), change.new_email_norm.parse()?);
            let email = templates::email_change_confirmation(
                to,
                user.locale,
                user.username.as_str(),
                &link,
                lasts(EMAIL_CHANGE_CONFIRM_TTL),
            );
            self.outbox.send(email).await
        };
        if let Err(err) = confirm.await {
            tracing::error!(user_id = %user.id, error = %format!("{err:#}"), "e-mail change confirmation not sent");
        }
        let notice = async {
            let link = format!("{}/undo-email-change?token={undo_token}", self.public_url);
            let to = Mailbox::new(name(), change.old_email_norm.parse()?);
            let email = templates::email_change_notice(
                to,
                user.locale,
                user.username.as_str(),
                &change.new_email.masked(),
                &link,
                lasts(EMAIL_CHANGE_UNDO_TTL),
            );
            self.outbox.send(email).await
        };
        if let Err(err) = notice.await {
            tracing::error!(user_id = %user.id, error = %format!("{err:#}"), "e-mail change notice not sent");
        }
    }
}
