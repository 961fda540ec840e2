//! Two-factor login: TOTP enrollment and recovery codes for the logged-in user, and the second
//! step of a login that answered `MFA_REQUIRED`.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::{
    auth::{AuthPayload, logged_in},
    context::ContextExt,
    guard::LoggedIn,
};
use crate::auth::mfa;

/// A new TOTP secret for an authenticator app; TOTP is on once `confirmTotpEnrollment` gets a
/// code from it.
#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// Base32, for typing into the app.
    secret: String,
    /// `otpauth://totp/…`, for a QR code.
    otpauth_uri: String,
}

impl From<mfa::TotpEnrollment> for TotpEnrollment {
    fn from(e: mfa::TotpEnrollment) -> Self {
        TotpEnrollment {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
        }
    }
}

#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Starts TOTP enrollment: a new secret, not active until confirmed. Like every TOTP and
    /// recovery-code change, needs a login or `reauthenticate` within `REAUTH_WINDOW` (else
    /// `REAUTHENTICATION_REQUIRED`).
    #[graphql(guard = "LoggedIn")]
    async fn start_totp_enrollment(&self, ctx: &Context<'_>) -> Result<TotpEnrollment> {
        let claims = ctx.claims()?;
        Ok(ctx
            .auth_service()
            .start_totp_enrollment(claims)
            .await?
            .into())
    }

    /// Turns TOTP on with a code from the app; returns 10 one-time recovery codes, shown once.
    #[graphql(guard = "LoggedIn")]
    async fn confirm_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<Vec<String>> {
        let claims = ctx.claims()?;
        let client = ctx.request_auth().client();
        Ok(ctx
            .auth_service()
            .confirm_totp_enrollment(claims, &code, client)
            .await?)
    }

    /// Turns TOTP off; takes a TOTP code or a recovery code.
    #[graphql(guard = "LoggedIn")]
    async fn disable_totp(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        let claims = ctx.claims()?;
        let client = ctx.request_auth().client();
        ctx.auth_service()
            .disable_totp(claims, &code, client)
            .await?;
        Ok(true)
    }

    /// Replaces the recovery codes (the old ones stop working); takes a TOTP or recovery code.
    #[graphql(guard = "LoggedIn")]
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<Vec<String>> {
        let claims = ctx.claims()?;
        let client = ctx.request_auth().client();
        Ok(ctx
            .auth_service()
            .regenerate_recovery_codes(claims, &code, client)
            .await?)
    }

    /// The second step of a login that answered `MFA_REQUIRED`: its `mfaToken` (single use,
    /// 5 minutes) and a TOTP or recovery code. Sets the login cookies.
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        mfa_token: String,
        code: String,
    ) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .verify_mfa(&mfa_token, &code, ctx.request_auth().client())
            .await?;
        Ok(logged_in(ctx, outcome, crate::domain::MessageKey::LoggedIn))
    }
}
