//! Changing the account's e-mail address: the request, and the two links it mails.

use async_graphql::{Context, Object, Result};

use super::{context::ContextExt, guard::LoggedIn};

#[derive(Default)]
pub struct EmailChangeMutation;

#[Object]
impl EmailChangeMutation {
    /// Asks to change the caller's e-mail address (needs a login or `reauthenticate` within
    /// `REAUTH_WINDOW`; not for guests). Mails a confirmation link to `newEmail` (24 hours) and
    /// a notice to the current address with a link that undoes the change (7 days). The address
    /// changes only once the new one is confirmed. `CONFLICT` when a verified account has it;
    /// `RATE_LIMITED` while the last change can still be undone.
    #[graphql(guard = "LoggedIn")]
    async fn change_email(&self, ctx: &Context<'_>, new_email: String) -> Result<bool> {
        ctx.auth_service()
            .change_email(ctx.claims()?, &new_email, ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// Gives the account the new address, with the token of the link mailed to it (once).
    /// The account stays verified; sign-in and password-reset links mailed to the old address
    /// stop working. `CONFLICT` when a verified account took the address meanwhile.
    async fn confirm_email_change(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        ctx.auth_service()
            .confirm_email_change(&token, ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// With the token of the link mailed to the old address (once, within 7 days of the
    /// request): cancels the change, or puts the old address back once it was made, and ends
    /// every session of the account at once.
    async fn undo_email_change(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        ctx.auth_service()
            .undo_email_change(&token, ctx.request_auth().client())
            .await?;
        Ok(true)
    }
}
