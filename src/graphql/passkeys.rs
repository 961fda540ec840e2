//! Passkeys: registration and removal for the logged-in user, and login with a passkey alone.

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    auth::{AuthPayload, logged_in},
    context::ContextExt,
    guard::LoggedIn,
};
use crate::{auth::passkeys::StartedCeremony, domain::PasskeyRecord};

/// A registered passkey (its key never leaves the server).
#[derive(SimpleObject)]
pub struct Passkey {
    id: ID,
    name: String,
    created_at: DateTime<Utc>,
    /// The last login with it.
    last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRecord> for Passkey {
    fn from(p: PasskeyRecord) -> Self {
        Passkey {
            id: ID(p.id.to_string()),
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

/// A started registration or login: pass `options` to `navigator.credentials.create` (or
/// `.get`), with its base64url fields decoded to ArrayBuffers, and send the result to the finish
/// mutation with `challengeId` within 5 minutes.
#[derive(SimpleObject)]
pub struct PasskeyChallenge {
    challenge_id: ID,
    options: Json<Value>,
}

impl From<StartedCeremony> for PasskeyChallenge {
    fn from(s: StartedCeremony) -> Self {
        PasskeyChallenge {
            challenge_id: ID(s.challenge_id.to_string()),
            options: Json(s.options),
        }
    }
}

#[derive(Default)]
pub struct PasskeyMutation;

#[Object]
impl PasskeyMutation {
    /// Starts registering a passkey for the logged-in user; needs a login or `reauthenticate`
    /// within `REAUTH_WINDOW` (else `REAUTHENTICATION_REQUIRED`), as do finishing it and
    /// `deletePasskey`.
    #[graphql(guard = "LoggedIn")]
    async fn start_passkey_registration(&self, ctx: &Context<'_>) -> Result<PasskeyChallenge> {
        Ok(ctx
            .auth_service()
            .start_passkey_registration(ctx.claims()?, ctx.request_auth().client())
            .await?
            .into())
    }

    /// Keeps the passkey the authenticator created (`credential`: the PublicKeyCredential
    /// serialised, binary fields in base64url). `name` defaults to "Passkey".
    #[graphql(guard = "LoggedIn")]
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        credential: Json<Value>,
        name: Option<String>,
    ) -> Result<Passkey> {
        Ok(ctx
            .auth_service()
            .finish_passkey_registration(
                ctx.claims()?,
                challenge_id.as_str(),
                credential.0,
                name.as_deref(),
                ctx.request_auth().client(),
            )
            .await?
            .into())
    }

    /// Removes one of the caller's passkeys; `NOT_FOUND` for any other id.
    #[graphql(guard = "LoggedIn")]
    async fn delete_passkey(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.auth_service()
            .delete_passkey(ctx.claims()?, id.as_str(), ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// Starts a passkey login with a discoverable passkey the authenticator picks; with a
    /// username, only that account's passkey finishes it. The options look the same whatever
    /// the name (no credentials are listed).
    async fn start_passkey_login(
        &self,
        ctx: &Context<'_>,
        username: Option<String>,
    ) -> Result<PasskeyChallenge> {
        Ok(ctx
            .auth_service()
            .start_passkey_login(username.as_deref(), ctx.request_auth().client())
            .await?
            .into())
    }

    /// Finishes a passkey login and sets the login cookies: a complete login on its own, with
    /// no TOTP step.
    async fn finish_passkey_login(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        credential: Json<Value>,
    ) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .finish_passkey_login(
                challenge_id.as_str(),
                credential.0,
                ctx.request_auth().client(),
            )
            .await?;
        Ok(logged_in(ctx, outcome, crate::domain::MessageKey::LoggedIn))
    }
}

/// `User.passkeys`: only the caller's own (`me`); `UNAUTHENTICATED` on any other user.
pub(super) async fn passkeys_of(
    ctx: &Context<'_>,
    user: &crate::domain::UserId,
) -> Result<Vec<Passkey>> {
    let claims = ctx.claims()?;
    if claims.sub != *user {
        return Err(crate::domain::AppError::Unauthenticated.into());
    }
    Ok(ctx
        .auth_service()
        .passkeys(user)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
