//! Step-up: changes to how an account signs in (passkeys, TOTP, recovery codes) need the
//! session to have proved who it is within `REAUTH_WINDOW` — by logging in, or by
//! `reauthenticate` — so that a stolen access token alone cannot plant a factor or lock the
//! owner out.

use super::AuthService;
use crate::{
    auth::{password::Password, tokens::Claims, tokens::chrono_duration},
    domain::UserRecord,
    domain::{AppError, AppResult, MessageKey},
};
use crate::{domain::ClientInfo, ratelimit::Bucket};

impl AuthService {
    /// Proves the session again: the password, and a TOTP or recovery code when TOTP is on
    /// (what a login would ask). Counts against the login limits like a login; wrong answers
    /// are audit-logged as `reauthentication_failed`.
    pub async fn reauthenticate(
        &self,
        claims: &Claims,
        password: Option<Password>,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.user_of(claims).await?;
        self.throttle()
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        self.check_account_budget(user.id.as_str(), Some(&user.id), client)
            .await?;
        let Some(password) = password else {
            return Err(AppError::bad_input("password", MessageKey::PasswordNeeded));
        };
        let failed = |reason: &str| {
            tracing::info!(target: "audit", event = "reauthentication_failed", user_id = %user.id, reason, client_ip = %client.key());
        };
        if !self
            .hasher
            .verify(password, user.password_hash().cloned())
            .await?
        {
            failed("password");
            return Err(AppError::InvalidCredentials);
        }
        if self.mfa_enabled(&user.id).await? {
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(AppError::bad_input("code", MessageKey::CodeNeeded));
            };
            if let Err(err) = self.spend_code(&user, code).await {
                failed("code");
                return Err(err);
            }
        }
        if !self
            .store
            .set_session_authenticated(&claims.sub, &claims.sid, self.clock.now())
            .await?
        {
            return Err(AppError::SessionExpired);
        }
        tracing::info!(target: "audit", event = "reauthenticated", user_id = %user.id, client_ip = %client.key());
        Ok(())
    }

    /// The caller, if it is an account (not a guest) whose session proved who it is within
    /// `REAUTH_WINDOW`; `REAUTHENTICATION_REQUIRED` otherwise. Read from the store, not a
    /// cache: it guards the changes a thief would want most.
    pub(in crate::auth) async fn recently_authenticated(
        &self,
        claims: &Claims,
    ) -> AppResult<UserRecord> {
        let user = self.user_of(claims).await?;
        let session = self
            .store
            .find_session(&claims.sub, &claims.sid)
            .await?
            .ok_or(AppError::SessionExpired)?;
        let window = chrono_duration(self.settings().reauth_window);
        if self.clock.now() - session.authenticated_at > window {
            return Err(AppError::ReauthenticationRequired);
        }
        Ok(user)
    }
}
