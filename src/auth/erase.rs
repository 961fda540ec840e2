//! Leaving: `deleteAccount` erases an account and everything that is its own, and
//! `admin user delete` does the same for an operator. The audit log keeps one event naming the
//! account by id only, so the record of the erasure holds nothing that was erased.

use super::{AuthService, Claims};
use crate::domain::{AppError, AppResult, ClientInfo, MessageKey, UserRecord};

impl AuthService {
    /// Erases the caller's account once they have typed its username (`confirm`) and proved
    /// who they are within `REAUTH_WINDOW`. Every session ends with it, on every process.
    pub async fn delete_account(
        &self,
        claims: &Claims,
        confirm: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.recently_authenticated(claims).await?;
        if !user.is_named(confirm) {
            return Err(AppError::bad_input(
                "confirm",
                MessageKey::DeleteAccountConfirmMismatch,
            ));
        }
        self.erase(&user).await?;
        tracing::info!(target: "audit", event = "account_deleted", user_id = %user.id, client_ip = %client.key());
        Ok(())
    }

    /// The same erasure, by an operator; audit-logged with their name.
    pub async fn admin_delete(&self, user: &UserRecord, actor: &str) -> AppResult<()> {
        self.erase(user).await?;
        tracing::info!(target: "audit", event = "admin_user_deleted", actor, user_id = %user.id);
        Ok(())
    }

    async fn erase(&self, user: &UserRecord) -> AppResult<()> {
        if !self.store.delete_user(&user.id).await? {
            return Err(AppError::NotFound);
        }
        // The sessions went with the account; this drops what this process remembers of them
        // (other processes within `SESSION_CACHE_TTL`), and open sockets close at their next
        // check.
        self.live.ended_all(&user.id, None);
        Ok(())
    }

    /// Finishes erasures a crash cut short (a store that erases in several writes).
    pub(super) async fn finish_account_erasures(&self) -> AppResult<u64> {
        let finished = self.store.finish_account_erasures().await?;
        if finished > 0 {
            tracing::warn!(
                count = finished,
                "finished account erasures a stop had cut short"
            );
        }
        Ok(finished)
    }
}
