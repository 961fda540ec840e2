//! The login flows of the design's "plan 2": the browser holds only a short-lived access JWT;
//! each session's refresh token stays on the user document and is rotated on every refresh.
//! Audit events go to the `audit` log target with the user id and client address, never a secret.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use super::{
    ClientInfo,
    links::{LinkPurpose, LinkSigner},
    live_sessions::LiveSessions,
    password::{self, Password},
    throttle::{Bucket, RateLimits, Throttle},
    tokens::{Claims, IssuedToken, TokenError, TokenKeys, chrono_duration},
    validate,
};
use crate::{
    config::{Config, Secret},
    error::{AppError, AppResult},
    mail::{outbox::Outbox, templates},
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
    pub refresh_reuse_interval: Duration,
    pub session_cache_ttl: Duration,
    pub public_url: String,
    pub rate_limits: RateLimits,
}

impl From<&Config> for AuthSettings {
    fn from(c: &Config) -> Self {
        AuthSettings {
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            session_idle_timeout: c.session_idle_timeout,
            refresh_reuse_interval: c.refresh_reuse_interval,
            session_cache_ttl: c.session_cache_ttl,
            public_url: c.public_url.clone(),
            rate_limits: c.rate_limits.clone(),
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
    outbox: Arc<Outbox>,
    tokens: TokenKeys,
    links: LinkSigner,
    throttle: Throttle,
    live: LiveSessions,
    settings: AuthSettings,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        outbox: Arc<Outbox>,
        secret: &Secret,
        previous_secrets: &[Secret],
        settings: AuthSettings,
    ) -> Self {
        AuthService {
            live: LiveSessions::new(store.clone(), settings.session_cache_ttl),
            store,
            outbox,
            tokens: TokenKeys::with_previous(secret, previous_secrets),
            links: LinkSigner::new(secret),
            throttle: Throttle::new(&settings.rate_limits),
            settings,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.tokens.verify_access(token, Utc::now())
    }

    /// The caller an access token names, if its signature holds, it has not expired and its
    /// session has not ended (`SESSION_EXPIRED`: logged out, revoked, or ended by a password
    /// change, on this process at once, on another within `SESSION_CACHE_TTL`).
    pub async fn authenticate(&self, token: &str) -> AppResult<Claims> {
        let claims = match self.verify_access(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired(_)) => return Err(AppError::TokenExpired),
            Err(TokenError::Invalid) => return Err(AppError::Unauthenticated),
        };
        if self.live.is_live(&claims.sub, &claims.sid).await? {
            Ok(claims)
        } else {
            Err(AppError::SessionExpired)
        }
    }

    pub async fn sign_up(&self, input: SignUp, client: &ClientInfo) -> AppResult<UserRecord> {
        let username = validate::username(&input.username)?;
        let email = validate::email(&input.email)?;
        validate::password("password", input.password.expose(), &username)?;
        let (username_norm, email_norm) =
            (validate::normalize(&username), validate::normalize(&email));
        self.throttle
            .check(Bucket::SignUpClient, &client.key(), None, client)?;
        self.throttle
            .check(Bucket::MailAddress, &email_norm, None, client)?;
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
        tracing::info!(target: "audit", event = "signed_up", user_id = %user.id, client_ip = %client.key());
        self.send_link(&user, LinkPurpose::VerifyEmail).await;
        Ok(user)
    }

    /// The e-mail goes through the outbox, so a mail server that is down delays it but does not
    /// lose it; only a failure to store it is logged here (the user can ask again).
    async fn send_link(&self, user: &UserRecord, purpose: LinkPurpose) {
        let token = self.links.make(purpose, user, Utc::now());
        let page = match purpose {
            LinkPurpose::VerifyEmail => "verify-email",
            LinkPurpose::ResetPassword => "reset-password",
        };
        let link = format!(
            "{}/{page}?uid={}&token={}",
            self.settings.public_url, user.id, token
        );
        let result = async {
            let to = Mailbox::new(Some(user.username.clone()), user.email.parse()?);
            let email = match purpose {
                LinkPurpose::VerifyEmail => templates::verification(to, &user.username, &link),
                LinkPurpose::ResetPassword => templates::password_reset(to, &user.username, &link),
            };
            self.outbox.send(email).await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(user_id = %user.id, ?purpose, error = %format!("{err:#}"), "e-mail not sent");
        }
    }

    /// The account an e-mail-sending request is about, if it exists and is (in)active as
    /// wanted. Limits apply whether or not the address is registered, so they reveal nothing.
    async fn mail_recipient(
        &self,
        email: &str,
        active: bool,
        client: &ClientInfo,
    ) -> AppResult<Option<UserRecord>> {
        let email_norm = validate::normalize(email);
        self.throttle
            .check(Bucket::MailClient, &client.key(), None, client)?;
        self.throttle
            .check(Bucket::MailAddress, &email_norm, None, client)?;
        Ok(self
            .store
            .find_user_by_email(&email_norm)
            .await?
            .filter(|u| u.is_active == active))
    }

    /// Always succeeds (unless rate limited), so the answer never tells whether an address is
    /// registered.
    pub async fn resend_verification(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        if let Some(user) = self.mail_recipient(email, false, client).await? {
            self.send_link(&user, LinkPurpose::VerifyEmail).await;
        }
        Ok(())
    }

    /// Like resending: the same answer for every address.
    pub async fn request_password_reset(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        if let Some(user) = self.mail_recipient(email, true, client).await? {
            tracing::info!(target: "audit", event = "password_reset_requested", user_id = %user.id, client_ip = %client.key());
            self.send_link(&user, LinkPurpose::ResetPassword).await;
        }
        Ok(())
    }

    /// The user an e-mailed link was made for, if the link is still good; `INVALID_TOKEN`
    /// otherwise, whatever the reason.
    async fn user_from_link(
        &self,
        purpose: LinkPurpose,
        uid: &str,
        token: &str,
    ) -> AppResult<UserRecord> {
        let id = UserId::parse(uid).ok_or(AppError::InvalidToken)?;
        let user = self
            .store
            .find_user(&id)
            .await?
            .ok_or(AppError::InvalidToken)?;
        if self.links.check(purpose, &user, token, Utc::now()) {
            Ok(user)
        } else {
            Err(AppError::InvalidToken)
        }
    }

    /// Checks and hashes a new password and swaps it in, only if the stored hash is still the
    /// one `user` was read with; `false` when it changed meanwhile.
    async fn replace_password(&self, user: &UserRecord, new_password: Password) -> AppResult<bool> {
        validate::password("newPassword", new_password.expose(), &user.username)?;
        let hash = password::hash(new_password).await?;
        Ok(self
            .store
            .set_password_hash(&user.id, &user.password_hash, &hash)
            .await?)
    }

    /// Sets a new password from an e-mailed link and ends every session.
    pub async fn reset_password(
        &self,
        uid: &str,
        token: &str,
        new_password: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self
            .user_from_link(LinkPurpose::ResetPassword, uid, token)
            .await?;
        let id = user.id.clone();
        // The old hash in the filter makes the link single-use under a race too.
        if !self.replace_password(&user, new_password).await? {
            return Err(AppError::InvalidToken);
        }
        let ended = self.store.remove_sessions(&id, None).await?;
        self.live.ended_all(&id, None);
        tracing::info!(target: "audit", event = "password_reset", user_id = %id, sessions_ended = ended, client_ip = %client.key());
        Ok(())
    }

    /// Needs the current password; ends every other session.
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: Password,
        new_password: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self
            .store
            .find_user(&claims.sub)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        self.check_account_budget(user.id.as_str(), Some(&user.id), client)?;
        if !password::verify(current, Some(user.password_hash.clone())).await? {
            tracing::info!(target: "audit", event = "password_change_failed", user_id = %user.id, client_ip = %client.key());
            return Err(AppError::InvalidCredentials);
        }
        if !self.replace_password(&user, new_password).await? {
            // Changed concurrently: the current password no longer is what was checked.
            return Err(AppError::InvalidCredentials);
        }
        let ended = self
            .store
            .remove_sessions(&user.id, Some(&claims.sid))
            .await?;
        self.live.ended_all(&user.id, Some(&claims.sid));
        tracing::info!(target: "audit", event = "password_changed", user_id = %user.id, sessions_ended = ended, client_ip = %client.key());
        Ok(())
    }

    pub async fn verify_email(
        &self,
        uid: &str,
        token: &str,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let mut user = self
            .user_from_link(LinkPurpose::VerifyEmail, uid, token)
            .await?;
        let id = user.id.clone();
        // The filter on `is_active = false` makes the link single-use even under a race.
        if !self.store.activate_user(&id).await? {
            return Err(AppError::InvalidToken);
        }
        user.is_active = true;
        tracing::info!(target: "audit", event = "email_verified", user_id = %user.id, client_ip = %client.key());
        self.start_session(user, client).await
    }

    pub async fn login(
        &self,
        username: &str,
        password: Password,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let key = validate::normalize(username);
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)?;
        let user = if key.contains('@') {
            self.store.find_user_by_email(&key).await?
        } else {
            self.store.find_user_by_username(&key).await?
        };
        // Keyed on the account, however it was named; unknown names get budgets of their own.
        let account = user
            .as_ref()
            .map_or_else(|| format!("unknown:{key}"), |u| u.id.to_string());
        self.check_account_budget(&account, user.as_ref().map(|u| &u.id), client)?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        if !password::verify(password, hash).await? {
            tracing::info!(
                target: "audit",
                event = "login_failed",
                user_id = user.as_ref().map(|u| u.id.to_string()).unwrap_or_default(),
                client_ip = %client.key()
            );
            return Err(AppError::InvalidCredentials);
        }
        let user = user.ok_or(AppError::InvalidCredentials)?;
        if !user.is_active {
            return Err(AppError::EmailNotVerified);
        }
        tracing::info!(target: "audit", event = "login_succeeded", user_id = %user.id, client_ip = %client.key());
        self.start_session(user, client).await
    }

    /// Password guesses at one account: limited per client, so a stranger guessing from
    /// elsewhere never uses up the owner's attempts, and under a higher ceiling across all
    /// clients, against guessing from many addresses.
    fn check_account_budget(
        &self,
        account: &str,
        user: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let per_client = format!("{account} {}", client.key());
        self.throttle
            .check(Bucket::LoginAccount, &per_client, user, client)?;
        self.throttle
            .check(Bucket::LoginAccountGlobal, account, user, client)
    }

    async fn start_session(
        &self,
        user: UserRecord,
        client: &ClientInfo,
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
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
            generation: 0,
        };
        if !self.store.add_session(&user.id, &session).await? {
            return Err(AppError::InvalidCredentials);
        }
        let access = self.issue_access(&user.id, &session_id, 0, now, expires_at);
        Ok(LoginOutcome { user, access })
    }

    /// Never outlives the session it belongs to.
    fn issue_access(
        &self,
        user: &UserId,
        session: &SessionId,
        generation: i64,
        now: DateTime<Utc>,
        session_end: DateTime<Utc>,
    ) -> IssuedToken {
        let exp = (now + chrono_duration(self.settings.access_token_ttl)).min(session_end);
        self.tokens
            .issue_access(user, session, generation, now, exp)
    }

    /// Genuine claims from a token that is unexpired, or expired less than
    /// `SESSION_IDLE_TIMEOUT` ago: the only tokens that may still act on their session (refresh,
    /// logout), so a leaked old token can do nothing. Forged or missing is `UNAUTHENTICATED`,
    /// older `SESSION_EXPIRED`.
    fn claims_within_idle_window(&self, token: Option<&str>) -> AppResult<Claims> {
        let claims = match self.verify_access(token.ok_or(AppError::Unauthenticated)?) {
            Ok(claims) => claims,
            Err(TokenError::Expired(claims)) => *claims,
            Err(TokenError::Invalid) => return Err(AppError::Unauthenticated),
        };
        let idle_deadline =
            claims.expires_at() + chrono_duration(self.settings.session_idle_timeout);
        if store::now() > idle_deadline {
            return Err(AppError::SessionExpired);
        }
        Ok(claims)
    }

    /// "Plan 2": the access token names the user and session; the stored refresh token, not
    /// anything the client holds, authorizes the renewal. Each refresh advances the session's
    /// generation; a token from an older generation is accepted only within the reuse interval
    /// (two tabs refreshing together), and only from the generation just before; anything else
    /// ends the session as stolen.
    pub async fn refresh(
        &self,
        access_token: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<(UserRecord, IssuedToken)> {
        let claims = self.claims_within_idle_window(access_token)?;
        self.throttle.check(
            Bucket::RefreshSession,
            claims.sid.as_str(),
            Some(&claims.sub),
            client,
        )?;
        let now = store::now();
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
            if claims.r#gen != session.generation {
                let recent = session.last_refreshed_at.is_some_and(|at| {
                    now - at <= chrono_duration(self.settings.refresh_reuse_interval)
                });
                if claims.r#gen == session.generation - 1 && recent {
                    // Another tab refreshed a moment ago: share its generation.
                    let access = self.issue_access(
                        &claims.sub,
                        &claims.sid,
                        session.generation,
                        now,
                        session.expires_at,
                    );
                    return Ok((user, access));
                }
                self.store.remove_session(&claims.sub, &claims.sid).await?;
                self.live.ended(&claims.sub, &claims.sid);
                tracing::warn!(
                    target: "audit",
                    event = "refresh_token_reuse_detected",
                    user_id = %claims.sub,
                    session_id = %claims.sid,
                    token_generation = claims.r#gen,
                    session_generation = session.generation,
                    client_ip = %client.key(),
                    "an old access token was replayed; the session is revoked"
                );
                return Err(AppError::SessionExpired);
            }
            let replacement =
                self.tokens
                    .issue_refresh(&claims.sub, &claims.sid, now, session.expires_at);
            let next = session.generation + 1;
            if self
                .store
                .rotate_refresh_token(
                    &claims.sub,
                    &claims.sid,
                    &session.refresh_token,
                    &replacement,
                    next,
                    now,
                )
                .await?
            {
                let access =
                    self.issue_access(&claims.sub, &claims.sid, next, now, session.expires_at);
                tracing::info!(target: "audit", event = "refreshed", user_id = %claims.sub, client_ip = %client.key());
                return Ok((user, access));
            }
            // Another request rotated it first: read the new state and decide again.
            tokio::task::yield_now().await;
        }
        Err(AppError::internal(anyhow::anyhow!(
            "refresh token rotation kept losing races"
        )))
    }

    /// Works with a token expired within the idle window, so a user coming back after a break
    /// can still end their session; `SESSION_EXPIRED` when the session had already ended.
    pub async fn logout(&self, access_token: Option<&str>, client: &ClientInfo) -> AppResult<()> {
        let claims = self.claims_within_idle_window(access_token)?;
        let removed = self.store.remove_session(&claims.sub, &claims.sid).await?;
        self.live.ended(&claims.sub, &claims.sid);
        if !removed {
            return Err(AppError::SessionExpired);
        }
        tracing::info!(target: "audit", event = "logged_out", user_id = %claims.sub, client_ip = %client.key());
        Ok(())
    }

    /// Ends every session of the caller, on every device. Like `logout`, only from a session
    /// that still exists, with a token no older than the idle window.
    pub async fn logout_all(
        &self,
        access_token: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<u64> {
        let claims = self.claims_within_idle_window(access_token)?;
        // Read from the store, not the cache: this is the one call that ends other sessions.
        if self
            .store
            .find_session(&claims.sub, &claims.sid)
            .await?
            .is_none()
        {
            return Err(AppError::SessionExpired);
        }
        let ended = self.store.remove_sessions(&claims.sub, None).await?;
        self.live.ended_all(&claims.sub, None);
        tracing::info!(target: "audit", event = "logged_out_everywhere", user_id = %claims.sub, sessions_ended = ended, client_ip = %client.key());
        Ok(ended)
    }

    pub async fn me(&self, claims: &Claims) -> AppResult<Option<UserRecord>> {
        Ok(self.store.find_user(&claims.sub).await?)
    }

    pub async fn sessions(&self, claims: &Claims) -> AppResult<Vec<SessionRecord>> {
        Ok(self.store.list_sessions(&claims.sub).await?)
    }

    pub async fn revoke_session(
        &self,
        claims: &Claims,
        id: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let id = SessionId::parse(id).ok_or(AppError::NotFound)?;
        if self.store.remove_session(&claims.sub, &id).await? {
            self.live.ended(&claims.sub, &id);
            tracing::info!(target: "audit", event = "session_revoked", user_id = %claims.sub, session_id = %id, client_ip = %client.key());
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
