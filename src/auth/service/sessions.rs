//! A user's sessions once they exist: ending this one or all of them, listing them, and
//! revoking another device's.

use super::AuthService;
use crate::{
    auth::tokens::Claims,
    domain::ClientInfo,
    domain::{AppError, AppResult},
    domain::{Locale, SessionId, SessionRecord, UserId, UserRecord},
};

impl AuthService {
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

    pub async fn user(&self, id: &UserId) -> AppResult<Option<UserRecord>> {
        Ok(self.store.find_user(id).await?)
    }

    /// `setLocale`: the language of this user's e-mails and messages from now on.
    pub async fn set_locale(&self, claims: &Claims, locale: Locale) -> AppResult<UserRecord> {
        if !self.store.set_user_locale(&claims.sub, locale).await? {
            return Err(AppError::SessionExpired);
        }
        self.user(&claims.sub)
            .await?
            .ok_or(AppError::SessionExpired)
    }

    pub async fn sessions(&self, claims: &Claims) -> AppResult<Vec<SessionRecord>> {
        Ok(self
            .store
            .list_sessions(&claims.sub, self.clock.now())
            .await?)
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
