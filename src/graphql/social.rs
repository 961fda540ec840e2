//! Sign-in through OpenID Connect providers: the list a login page shows, starting a sign-in
//! or a link, and the caller's links. The provider sends the browser back to
//! `GET /auth/oidc/<provider>/callback` (see `http::social`), which ends it.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{context::ContextExt, guard::LoggedIn};
use crate::domain::{SocialLinkRecord, UserId};

/// A provider people can sign in with.
#[derive(SimpleObject)]
pub struct SocialProvider {
    /// As `startSocialLogin` takes it, e.g. `google`.
    name: String,
    display_name: String,
}

/// An identity linked to the caller's account.
#[derive(SimpleObject)]
pub struct SocialAccount {
    provider: String,
    /// The provider's id for the person (`sub`).
    subject: String,
    /// The address the provider reported when the link was made.
    email: Option<String>,
    linked_at: DateTime<Utc>,
}

impl From<SocialLinkRecord> for SocialAccount {
    fn from(l: SocialLinkRecord) -> Self {
        SocialAccount {
            provider: l.provider,
            subject: l.subject,
            email: l.email,
            linked_at: l.linked_at,
        }
    }
}

/// Where to send the browser: the provider's authorization page.
#[derive(SimpleObject)]
pub struct SocialLoginStart {
    authorization_url: String,
}

#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// The configured OpenID Connect providers, for a login page to list.
    async fn social_providers(&self, ctx: &Context<'_>) -> Vec<SocialProvider> {
        ctx.auth_service()
            .social_providers()
            .into_iter()
            .map(|(name, display_name)| SocialProvider { name, display_name })
            .collect()
    }
}

#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Starts signing in with `provider`: send the browser to `authorizationUrl`. The provider
    /// sends it back to this server, which logs it in (the `access` cookie) and redirects it to
    /// `returnTo` (on PUBLIC_URL's origin or one in OIDC_RETURN_ORIGINS), with `?error=<code>`
    /// when it failed. The sign-in must finish within 10 minutes.
    async fn start_social_login(
        &self,
        ctx: &Context<'_>,
        provider: String,
        return_to: String,
    ) -> Result<SocialLoginStart> {
        let authorization_url = ctx
            .auth_service()
            .start_social_login(&provider, &return_to, None, ctx.request_auth().client())
            .await?;
        Ok(SocialLoginStart { authorization_url })
    }

    /// Like `startSocialLogin`, linking the provider's identity to the caller's account; needs
    /// a login or `reauthenticate` within `REAUTH_WINDOW`.
    #[graphql(guard = "LoggedIn")]
    async fn link_social_account(
        &self,
        ctx: &Context<'_>,
        provider: String,
        return_to: String,
    ) -> Result<SocialLoginStart> {
        let authorization_url = ctx
            .auth_service()
            .start_social_link(
                ctx.claims()?,
                &provider,
                &return_to,
                ctx.request_auth().client(),
            )
            .await?;
        Ok(SocialLoginStart { authorization_url })
    }

    /// Removes the link to `provider` (`NOT_FOUND` when there is none); refused while it is the
    /// account's only way to sign in. Needs a recent login, as `linkSocialAccount` does.
    #[graphql(guard = "LoggedIn")]
    async fn unlink_social_account(&self, ctx: &Context<'_>, provider: String) -> Result<bool> {
        Ok(ctx
            .auth_service()
            .unlink_social_account(ctx.claims()?, &provider, ctx.request_auth().client())
            .await?)
    }
}

/// The caller's links; only on `me`.
pub(super) async fn social_accounts_of(
    ctx: &Context<'_>,
    user: &UserId,
) -> Result<Vec<SocialAccount>> {
    if ctx.claims()?.sub != *user {
        return Err(crate::domain::AppError::Unauthenticated.into());
    }
    Ok(ctx
        .auth_service()
        .social_links(user)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
