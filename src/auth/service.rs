//! The login flows of the design's "plan 2": the browser holds only a short-lived access JWT;
//! each session's refresh token stays on the user document and is rotated on every refresh.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use super::{
    links::{LinkPurpose, LinkSigner},
    password::{self, Password},
    tokens::{Claims, IssuedToken, TokenError, TokenKeys, chrono_duration},
    validate,
};
use crate::{
    config::Config,
    error::{AppError, AppResult},
    mail::{Mailer, templates},
    store::{self, SessionId, SessionRecord, Store, UserId, UserRecord},
};

/// Concurrent refreshes of one session each retry their compare-and-swap this often before
/// giving up; twenty tabs refreshing at once need at most twenty rounds.
const ROTATE_ATTEMPTS: usize = 64;
const USER_AGENT_MAX: usize = 256;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub public_url: String,
}

impl From<&Config> for AuthSettings {
    fn from(c: &Config) -> Self {
        AuthSettings {
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            session_idle_timeout: c.session_idle_timeout,
            public_url: c.public_url.clone(),
        }
    }
}

pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: Password,
}

/// A new session: who logged in and the access token to hand them.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub user: UserRecord,
    pub access: IssuedToken,
}

pub struct AuthService {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    tokens: TokenKeys,
    links: LinkSigner,
    settings: AuthSettings,
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        secret: &crate::config::Secret,
        previous_secrets: &[crate::config::Secret],
        settings: AuthSettings,
    ) -> Self {
        AuthService {
            store,
            mailer,
            tokens: TokenKeys::with_previous(secret, previous_secrets),
            links: LinkSigner::new(secret),
            settings,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Stateless: no database hit, so the guard costs only a signature check.
    pub fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.tokens.verify_access(token, Utc::now())
    }

    pub async fn sign_up(&self, input: SignUp) -> AppResult<UserRecord> {
        let username = validate::username(&input.username)?;
        let email = validate::email(&input.email)?;
        validate::password("password", input.password.expose(), &username)?;
        let (username_norm, email_norm) =
            (validate::normalize(&username), validate::normalize(&email));
        // Cheap checks first, so a taken name does not cost an argon2 run; the unique indexes
        // still decide races.
        if self
            .store
            .find_user_by_username(&username_norm)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict { field: "username" });
        }
        if self.store.find_user_by_email(&email_norm).await?.is_some() {
            return Err(AppError::Conflict { field: "email" });
        }
        let user = UserRecord {
            id: UserId::new_random(),
            username,
            username_norm,
            email,
            email_norm,
            password_hash: password::hash(input.password).await?,
            is_active: false,
            created_at: store::now(),
        };
        self.store.insert_user(&user).await?;
        tracing::info!(user_id = %user.id, "user signed up");
        self.send_verification(&user).await;
        Ok(user)
    }

    /// The account exists either way; a failed send is logged and the user can ask again.
    async fn send_verification(&self, user: &UserRecord) {
        let token = self.links.make(LinkPurpose::VerifyEmail, user, Utc::now());
        let link = format!(
            "{}/verify-email?uid={}&token={}",
            self.settings.public_url, user.id, token
        );
        let result = async {
            let to = Mailbox::new(Some(user.username.clone()), user.email.parse()?);
            self.mailer
                .send(templates::verification(to, &user.username, &link))
                .await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(user_id = %user.id, error = %format!("{err:#}"), "verification e-mail not sent");
        }
    }

    /// Always succeeds, so the answer never tells whether an address is registered.
    pub async fn resend_verification(&self, email: &str) -> AppResult<()> {
        if let Some(user) = self
            .store
            .find_user_by_email(&validate::normalize(email))
            .await?
            .filter(|u| !u.is_active)
        {
            self.send_verification(&user).await;
        }
        Ok(())
    }

    pub async fn verify_email(
        &self,
        uid: &str,
        token: &str,
        user_agent: Option<&str>,
    ) -> AppResult<LoginOutcome> {
        let id = UserId::parse(uid).ok_or(AppError::InvalidToken)?;
        let mut user = self
            .store
            .find_user(&id)
            .await?
            .ok_or(AppError::InvalidToken)?;
        if !self
            .links
            .check(LinkPurpose::VerifyEmail, &user, token, Utc::now())
        {
            return Err(AppError::InvalidToken);
        }
        // The filter on `is_active = false` makes the link single-use even under a race.
        if !self.store.activate_user(&id).await? {
            return Err(AppError::InvalidToken);
        }
        user.is_active = true;
        tracing::info!(user_id = %user.id, "e-mail verified");
        self.start_session(user, user_agent).await
    }

    pub async fn login(
        &self,
        username: &str,
        password: Password,
        user_agent: Option<&str>,
    ) -> AppResult<LoginOutcome> {
        let key = validate::normalize(username);
        let user = if key.contains('@') {
            self.store.find_user_by_email(&key).await?
        } else {
            self.store.find_user_by_username(&key).await?
        };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        if !password::verify(password, hash).await? {
            tracing::info!(user_id = ?user.as_ref().map(|u| u.id.to_string()), "login failed");
            return Err(AppError::InvalidCredentials);
        }
        let user = user.ok_or(AppError::InvalidCredentials)?;
        if !user.is_active {
            return Err(AppError::EmailNotVerified);
        }
        tracing::info!(user_id = %user.id, "login succeeded");
        self.start_session(user, user_agent).await
    }

    async fn start_session(
        &self,
        user: UserRecord,
        user_agent: Option<&str>,
    ) -> AppResult<LoginOutcome> {
        let now = store::now();
        let session_id = SessionId::new_random();
        let expires_at = now + chrono_duration(self.settings.refresh_token_ttl);
        let session = SessionRecord {
            id: session_id.clone(),
            refresh_token: self
                .tokens
                .issue_refresh(&user.id, &session_id, now, expires_at),
            created_at: now,
            expires_at,
            last_refreshed_at: None,
            user_agent: user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
        };
        if !self.store.add_session(&user.id, &session).await? {
            return Err(AppError::InvalidCredentials);
        }
        let access = self.issue_access(&user.id, &session_id, now, expires_at);
        Ok(LoginOutcome { user, access })
    }

    /// Never outlives the session it belongs to.
    fn issue_access(
        &self,
        user: &UserId,
        session: &SessionId,
        now: DateTime<Utc>,
        session_end: DateTime<Utc>,
    ) -> IssuedToken {
        let exp = (now + chrono_duration(self.settings.access_token_ttl)).min(session_end);
        self.tokens.issue_access(user, session, now, exp)
    }

    /// Genuine claims from a possibly expired token; forged or missing is `UNAUTHENTICATED`.
    fn genuine_claims(&self, token: Option<&str>) -> AppResult<Claims> {
        match self.verify_access(token.ok_or(AppError::Unauthenticated)?) {
            Ok(claims) => Ok(claims),
            Err(TokenError::Expired(claims)) => Ok(*claims),
            Err(TokenError::Invalid) => Err(AppError::Unauthenticated),
        }
    }

    /// "Plan 2": the access token names the user and session; the stored refresh token, not
    /// anything the client holds, authorizes the renewal.
    pub async fn refresh(
        &self,
        access_token: Option<&str>,
    ) -> AppResult<(UserRecord, IssuedToken)> {
        let claims = self.genuine_claims(access_token)?;
        let now = store::now();
        let idle_deadline =
            claims.expires_at() + chrono_duration(self.settings.session_idle_timeout);
        if now > idle_deadline {
            return Err(AppError::SessionExpired);
        }
        let user = self
            .store
            .find_user(&claims.sub)
            .await?
            .filter(|u| u.is_active)
            .ok_or(AppError::SessionExpired)?;
        for _ in 0..ROTATE_ATTEMPTS {
            let session = self
                .store
                .find_session(&claims.sub, &claims.sid)
                .await?
                .ok_or(AppError::SessionExpired)?;
            if session.expires_at <= now
                || !self.tokens.verify_refresh(
                    &session.refresh_token,
                    &claims.sub,
                    &claims.sid,
                    now,
                )
            {
                return Err(AppError::SessionExpired);
            }
            let replacement =
                self.tokens
                    .issue_refresh(&claims.sub, &claims.sid, now, session.expires_at);
            if self
                .store
                .rotate_refresh_token(
                    &claims.sub,
                    &claims.sid,
                    &session.refresh_token,
                    &replacement,
                    now,
                )
                .await?
            {
                let access = self.issue_access(&claims.sub, &claims.sid, now, session.expires_at);
                tracing::debug!(user_id = %claims.sub, "session refreshed");
                return Ok((user, access));
            }
            // Another request rotated it first: read the new token and try again.
            tokio::task::yield_now().await;
        }
        Err(AppError::internal(anyhow::anyhow!(
            "refresh token rotation kept losing races"
        )))
    }

    /// Works with an expired but genuine token, so a user coming back after a break can still
    /// end their session.
    pub async fn logout(&self, access_token: Option<&str>) -> AppResult<()> {
        let claims = self.genuine_claims(access_token)?;
        self.store.remove_session(&claims.sub, &claims.sid).await?;
        tracing::info!(user_id = %claims.sub, "logged out");
        Ok(())
    }

    pub async fn me(&self, claims: &Claims) -> AppResult<Option<UserRecord>> {
        Ok(self.store.find_user(&claims.sub).await?)
    }

    pub async fn sessions(&self, claims: &Claims) -> AppResult<Vec<SessionRecord>> {
        Ok(self.store.list_sessions(&claims.sub).await?)
    }

    pub async fn revoke_session(&self, claims: &Claims, id: &str) -> AppResult<()> {
        let id = SessionId::parse(id).ok_or(AppError::NotFound)?;
        if self.store.remove_session(&claims.sub, &id).await? {
            tracing::info!(user_id = %claims.sub, "session revoked");
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
