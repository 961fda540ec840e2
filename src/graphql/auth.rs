//! Sign-up, e-mail verification, login (by password or e-mailed link), refresh, logout and
//! sessions.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::{context::ContextExt, guard::LoggedIn};
use crate::{
    auth::{IssuedToken, LoginOutcome, SignUp, password::Password},
    domain::{
        AppError,
        identity::{EmailAddress, Username},
    },
    domain::{Locale, Message, MessageKey, SessionRecord, UserId, UserRecord},
    i18n,
};

/// A user as its owner sees it. `me` can name one from its access token alone; the rest of
/// the record is read, once, only when a field needs it.
pub struct UserObject {
    id: UserId,
    username: String,
    record: OnceCell<UserRecord>,
}

impl UserObject {
    /// Named by an access token; nothing is read yet.
    fn named(id: UserId, username: String) -> Self {
        UserObject {
            id,
            username,
            record: OnceCell::new(),
        }
    }

    async fn record(&self, ctx: &Context<'_>) -> Result<&UserRecord> {
        let read = || async {
            ctx.auth_service()
                .user(&self.id)
                .await?
                .ok_or(AppError::SessionExpired)
        };
        Ok(self.record.get_or_try_init(read).await?)
    }
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// A guest's is made up: `guest#` and 16 hex digits, which no sign-up can take.
    async fn username(&self) -> &str {
        &self.username
    }

    /// Empty for a guest, which has no address.
    async fn email(&self, ctx: &Context<'_>) -> Result<String> {
        let user = self.record(ctx).await?;
        Ok(user.email().map(ToString::to_string).unwrap_or_default())
    }

    async fn is_active(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.record(ctx).await?.is_active)
    }

    /// Made by `startGuestSession` and not signed up (`upgradeGuest`) yet.
    async fn is_guest(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.record(ctx).await?.is_guest())
    }

    /// For a guest that signed up: when it signed up.
    async fn created_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(self.record(ctx).await?.created_at)
    }

    /// The language of the user's e-mails and messages: `en` or `ko`. Set at sign-up from
    /// `Accept-Language`; changed with `setLocale`.
    async fn locale(&self, ctx: &Context<'_>) -> Result<&'static str> {
        Ok(self.record(ctx).await?.locale.as_str())
    }

    /// Whether logging in asks for a TOTP (or recovery) code after the password.
    async fn mfa_enabled(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth_service().mfa_enabled(&self.id).await?)
    }

    /// The caller's passkeys, oldest first; only on `me` (`UNAUTHENTICATED` on another user).
    async fn passkeys(&self, ctx: &Context<'_>) -> Result<Vec<super::passkeys::Passkey>> {
        super::passkeys::passkeys_of(ctx, &self.id).await
    }

    /// The OpenID Connect identities linked to the caller, oldest first; only on `me`.
    async fn social_accounts(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::social::SocialAccount>> {
        super::social::social_accounts_of(ctx, &self.id).await
    }
}

impl From<UserRecord> for UserObject {
    fn from(u: UserRecord) -> Self {
        UserObject {
            id: u.id.clone(),
            username: u.username.to_string(),
            record: OnceCell::new_with(Some(u)),
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    username: String,
    email: String,
    password: String,
}

impl SignUpInput {
    /// Parsed here, at the edge: the service gets a username and address that are valid.
    fn parse(self) -> Result<SignUp, AppError> {
        Ok(SignUp {
            username: Username::parse(&self.username)?,
            email: EmailAddress::parse(&self.email)?,
            password: Password::new(self.password),
        })
    }
}

#[derive(SimpleObject)]
pub struct SignUpPayload {
    user: UserObject,
    message: String,
}

impl SignUpPayload {
    /// The account just signed up, and where its confirmation link went.
    fn signed_up(user: UserRecord) -> Self {
        SignUpPayload {
            message: i18n::render(
                user.locale,
                &Message::new(MessageKey::SignedUp)
                    .with("username", user.username.as_str())
                    .with(
                        "email",
                        user.email().map(ToString::to_string).unwrap_or_default(),
                    ),
            ),
            user: user.into(),
        }
    }
}

/// How a session signed in.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::SignInMethod")]
pub enum SignInMethod {
    /// A password, or the e-mail confirmation link after signing up.
    Password,
    Passkey,
    /// A password and a TOTP or recovery code.
    Mfa,
    /// `startGuestSession`.
    Guest,
    /// An OpenID Connect provider (`startSocialLogin`).
    Social,
    /// A link or code e-mailed by `requestSignInLink`.
    EmailLink,
}

#[derive(SimpleObject)]
pub(super) struct AuthPayload {
    user: UserObject,
    /// For a native client (a request without `Origin`), to send as `Authorization: Bearer`;
    /// `null` for a browser, which holds it in the `HttpOnly` `access` cookie alone, out of
    /// scripts' reach. The refresh token never leaves the server.
    access_token: Option<String>,
    access_token_expires_at: DateTime<Utc>,
    message: String,
}

#[derive(SimpleObject)]
pub struct RefreshPayload {
    /// As `AuthPayload.accessToken`: `null` for a browser, which gets the cookie.
    access_token: Option<String>,
    access_token_expires_at: DateTime<Utc>,
}

/// The new access token as a response body may carry it (see [`crate::domain::ClientKind`]).
fn token_for_body(ctx: &Context<'_>, access: IssuedToken) -> Option<String> {
    ctx.request_auth().client().kind.token_in_body(access.token)
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    message: String,
}

/// One logged-in device.
#[derive(SimpleObject)]
pub struct Session {
    id: ID,
    created_at: DateTime<Utc>,
    last_refreshed_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    /// The session this request's token belongs to.
    current: bool,
    /// How it signed in; refreshing keeps it.
    sign_in_method: SignInMethod,
}

impl Session {
    fn new(s: SessionRecord, current: bool) -> Self {
        Session {
            id: ID(s.id.to_string()),
            created_at: s.created_at,
            last_refreshed_at: s.last_refreshed_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            current,
            sign_in_method: s.method.into(),
        }
    }
}

fn set_login_cookies(ctx: &Context<'_>, access: &IssuedToken, username: &str) {
    for cookie in ctx.cookie_policy().login(access, username) {
        ctx.append_http_header("set-cookie", cookie);
    }
}

fn clear_login_cookies(ctx: &Context<'_>) {
    for cookie in ctx.cookie_policy().logout() {
        ctx.append_http_header("set-cookie", cookie);
    }
}

/// Sets the login cookies and answers with `message` in the user's language.
pub(super) fn logged_in(
    ctx: &Context<'_>,
    outcome: LoginOutcome,
    message: MessageKey,
) -> AuthPayload {
    set_login_cookies(ctx, &outcome.access, outcome.user.username.as_str());
    let message = i18n::text(outcome.user.locale, message);
    AuthPayload {
        user: outcome.user.into(),
        access_token_expires_at: outcome.access.expires_at,
        access_token: token_for_body(ctx, outcome.access),
        message,
    }
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The logged-in user; `null` when no token is sent.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(claims) = ctx.optional_claims()? else {
            return Ok(None);
        };
        // Its id and name are in the token (a token signed before they were is read through).
        let named_only = ctx
            .field()
            .selection_set()
            .all(|f| matches!(f.name(), "id" | "username" | "__typename"));
        if let (true, Some(username)) = (named_only, &claims.username) {
            return Ok(Some(UserObject::named(
                claims.sub.clone(),
                username.clone(),
            )));
        }
        Ok(ctx.auth_service().user(&claims.sub).await?.map(Into::into))
    }

    /// The caller's logged-in devices, newest first.
    #[graphql(guard = "LoggedIn")]
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let claims = ctx.claims()?;
        Ok(ctx
            .auth_service()
            .sessions(claims)
            .await?
            .into_iter()
            .map(|s| {
                let current = s.id == claims.sid;
                Session::new(s, current)
            })
            .collect())
    }

    /// Everything the server holds on the caller, as one JSON document with a `version`
    /// (docs/api.md describes it); needs a login or `reauthenticate` within `REAUTH_WINDOW`.
    #[graphql(guard = "LoggedIn")]
    async fn export_my_data(
        &self,
        ctx: &Context<'_>,
    ) -> Result<async_graphql::Json<serde_json::Value>> {
        Ok(async_graphql::Json(
            ctx.auth_service()
                .export_my_data(ctx.claims()?, ctx.request_auth().client())
                .await?,
        ))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an inactive account and e-mails the confirmation link.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<SignUpPayload> {
        let user = ctx
            .auth_service()
            .sign_up(input.parse()?, ctx.request_auth().client())
            .await?;
        Ok(SignUpPayload::signed_up(user))
    }

    /// Makes a guest account (no e-mail, no password) and logs it in (sets cookies). Guests
    /// may make and answer quizzes; an idle one is deleted after `GUEST_TTL`.
    async fn start_guest_session(&self, ctx: &Context<'_>) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .start_guest_session(ctx.request_auth().client())
            .await?;
        Ok(logged_in(ctx, outcome, MessageKey::GuestStarted))
    }

    /// Signs the logged-in guest up: same id, its quizzes and results kept, the confirmation
    /// link e-mailed as for `signUp`. Until it is opened the account is an unverified sign-up:
    /// this session ends (cookies cleared), and `login` answers `EMAIL_NOT_VERIFIED`.
    #[graphql(guard = "LoggedIn")]
    async fn upgrade_guest(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<SignUpPayload> {
        let user = ctx
            .auth_service()
            .upgrade_guest(ctx.claims()?, input.parse()?, ctx.request_auth().client())
            .await?;
        clear_login_cookies(ctx);
        Ok(SignUpPayload::signed_up(user))
    }

    /// Always `true`, whether or not the address is registered.
    async fn resend_verification_email(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        ctx.auth_service()
            .resend_verification(&email, ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// E-mails a link to choose a new password (valid for 1 hour, once). Always `true`, whether
    /// or not the address is registered.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        ctx.auth_service()
            .request_password_reset(&email, ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// E-mails a link and a 6-digit code that sign in (valid for 10 minutes; either one, once)
    /// to a verified account with this address; with `SIGN_UP_BY_LINK`, also to an address no
    /// verified account has, to sign up. Always `true`, whether or not the address is
    /// registered. `returnTo`, where the link's page goes once signed in, must be on this
    /// site (`PUBLIC_URL`'s origin).
    async fn request_sign_in_link(
        &self,
        ctx: &Context<'_>,
        email: String,
        return_to: Option<String>,
    ) -> Result<bool> {
        ctx.auth_service()
            .request_sign_in_link(&email, return_to.as_deref(), ctx.request_auth().client())
            .await?;
        Ok(true)
    }

    /// Logs in with the token of an e-mailed sign-in link, as `login` does (sets cookies;
    /// `MFA_REQUIRED` with TOTP on). Uses up the link and its code.
    async fn sign_in_with_link(&self, ctx: &Context<'_>, token: String) -> Result<AuthPayload> {
        let signed_in = ctx
            .auth_service()
            .sign_in_with_link(&token, ctx.request_auth().client())
            .await?;
        Ok(logged_in(ctx, signed_in.outcome?, MessageKey::LoggedIn))
    }

    /// Logs in with the address and the e-mailed 6-digit code, as `login` does. Uses up the
    /// code and its link; 5 wrong codes end the request.
    async fn sign_in_with_code(
        &self,
        ctx: &Context<'_>,
        email: String,
        code: String,
    ) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .sign_in_with_code(&email, &code, ctx.request_auth().client())
            .await?;
        Ok(logged_in(ctx, outcome, MessageKey::LoggedIn))
    }

    /// Sets a new password from the e-mailed link; every session of the account ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        uid: String,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        ctx.auth_service()
            .reset_password(
                &uid,
                &token,
                Password::new(new_password),
                ctx.request_auth().client(),
            )
            .await?;
        Ok(true)
    }

    /// Changes the password; every other session of the account ends.
    #[graphql(guard = "LoggedIn")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        ctx.auth_service()
            .change_password(
                ctx.claims()?,
                Password::new(current_password),
                Password::new(new_password),
                ctx.request_auth().client(),
            )
            .await?;
        Ok(true)
    }

    /// Activates the account from the e-mail link and logs in (sets cookies).
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        uid: String,
        token: String,
    ) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .verify_email(&uid, &token, ctx.request_auth().client())
            .await?;
        Ok(logged_in(ctx, outcome, MessageKey::EmailVerifiedLoggedIn))
    }

    /// Logs in with a username (or e-mail address) and password; sets cookies.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<AuthPayload> {
        let outcome = ctx
            .auth_service()
            .login(
                &username,
                Password::new(password),
                ctx.request_auth().client(),
            )
            .await?;
        Ok(logged_in(ctx, outcome, MessageKey::LoggedIn))
    }

    /// Issues a new access token for the session named by the current (possibly expired) one.
    async fn refresh_token(&self, ctx: &Context<'_>) -> Result<RefreshPayload> {
        match ctx
            .auth_service()
            .refresh(
                ctx.request_auth().access_token(),
                ctx.request_auth().client(),
            )
            .await
        {
            Ok((user, access)) => {
                set_login_cookies(ctx, &access, user.username.as_str());
                Ok(RefreshPayload {
                    access_token_expires_at: access.expires_at,
                    access_token: token_for_body(ctx, access),
                })
            }
            Err(err) => {
                if matches!(err, AppError::SessionExpired) {
                    clear_login_cookies(ctx);
                }
                Err(err.into())
            }
        }
    }

    /// Ends this session: removes its refresh token and clears the cookies. Works with an access
    /// token that expired less than the idle timeout ago.
    async fn logout(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        clear_login_cookies(ctx);
        let auth = ctx.request_auth();
        ctx.auth_service()
            .logout(auth.access_token(), auth.client())
            .await?;
        Ok(LogoutPayload {
            message: ctx.say_to_browser(&Message::new(MessageKey::LoggedOut)),
        })
    }

    /// Sets the caller's language (`en` or `ko`; a BCP 47 tag such as `ko-KR` names its
    /// language). Messages, e-mails and pages use it instead of `Accept-Language` from now on.
    #[graphql(guard = "LoggedIn")]
    async fn set_locale(&self, ctx: &Context<'_>, locale: String) -> Result<UserObject> {
        let locale = Locale::from_tag(&locale).ok_or_else(|| {
            AppError::bad_input("locale", crate::domain::MessageKey::LocaleUnsupported)
        })?;
        let user = ctx.auth_service().set_locale(ctx.claims()?, locale).await?;
        Ok(user.into())
    }

    /// Ends every session of the account, on every device, and clears this browser's cookies.
    /// Like `logout`, works with an access token that expired less than the idle timeout ago.
    async fn logout_all(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        clear_login_cookies(ctx);
        let auth = ctx.request_auth();
        let ended = ctx
            .auth_service()
            .logout_all(auth.access_token(), auth.client())
            .await?;
        Ok(LogoutPayload {
            message: ctx.say_to_browser(
                &Message::new(MessageKey::LoggedOutEverywhere).with("count", ended),
            ),
        })
    }

    /// Erases the account and everything in it, for good, once `confirm` is its username and
    /// the session proved who it is within `REAUTH_WINDOW`. Every session ends; this browser's
    /// cookies are cleared.
    #[graphql(guard = "LoggedIn")]
    async fn delete_account(&self, ctx: &Context<'_>, confirm: String) -> Result<bool> {
        ctx.auth_service()
            .delete_account(ctx.claims()?, &confirm, ctx.request_auth().client())
            .await?;
        clear_login_cookies(ctx);
        Ok(true)
    }

    /// Proves again that the session is its owner's: the password, plus a TOTP or recovery
    /// code when two-factor login is on. Adding or removing a sign-in factor then works for
    /// `REAUTH_WINDOW`. Counts against the login rate limits.
    #[graphql(guard = "LoggedIn")]
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        password: Option<String>,
        code: Option<String>,
    ) -> Result<bool> {
        ctx.auth_service()
            .reauthenticate(
                ctx.claims()?,
                password.map(Password::new),
                code.as_deref(),
                ctx.request_auth().client(),
            )
            .await?;
        Ok(true)
    }

    /// Logs out one of the caller's devices; its next refresh fails.
    #[graphql(guard = "LoggedIn")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.auth_service()
            .revoke_session(ctx.claims()?, id.as_str(), ctx.request_auth().client())
            .await?;
        Ok(true)
    }
}
