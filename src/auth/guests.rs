//! Guests: an account made on the spot, with no address and no password, so people can try
//! quizzes before signing up. A guest logs in like anyone else (same session, same cookies),
//! can later sign up in place (`upgradeGuest`: same id, its quizzes and results kept), and is
//! deleted with everything it owns once idle for `GUEST_TTL`.

use super::{
    LoginOutcome, SignUp,
    links::LinkPurpose,
    service::AuthService,
    tokens::{Claims, chrono_duration},
};
use crate::domain::ClientInfo;
use crate::ratelimit::Bucket;
use crate::{
    domain::{AppError, AppResult, SignInMethod, UserRecord},
    store::{StoreError, UniqueField},
};

/// A new guest's made-up name clashing with another guest's is next to impossible (60 random
/// bits); a clash is retried with a new name this often.
const NAME_ATTEMPTS: usize = 3;

impl AuthService {
    /// Makes a guest and logs it in.
    pub async fn start_guest_session(&self, client: &ClientInfo) -> AppResult<LoginOutcome> {
        self.throttle()
            .check(Bucket::GuestClient, &client.key(), None, client)
            .await?;
        let mut attempts = 0;
        let guest = loop {
            let guest = UserRecord {
                locale: client.locale.unwrap_or_default(),
                ..UserRecord::new_guest(self.clock.now())
            };
            match self.store.insert_user_replacing_pending(&guest).await {
                Ok(_) => break guest,
                Err(StoreError::Conflict(UniqueField::Username)) if attempts < NAME_ATTEMPTS => {
                    attempts += 1;
                }
                Err(err) => return Err(err.into()),
            }
        };
        tracing::info!(target: "audit", event = "guest_started", user_id = %guest.id, client_ip = %client.key());
        self.start_session(guest, client, SignInMethod::Guest).await
    }

    /// Signs the calling guest up in place: the checks and limits of `signUp`, then the same
    /// user id with a name, address and password, unverified until the e-mailed link is used.
    /// Its sessions end (an unverified account has none); quizzes and results stay.
    pub async fn upgrade_guest(
        &self,
        claims: &Claims,
        input: SignUp,
        client: &ClientInfo,
    ) -> AppResult<UserRecord> {
        let not_a_guest = AppError::AccountRequired {
            message: crate::domain::MessageKey::OnlyGuestsUpgrade,
        };
        let guest = self
            .store
            .find_user(&claims.sub)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !guest.is_guest() {
            return Err(not_a_guest);
        }
        let user = self.new_account(input, guest.id, client).await?;
        if !self.store.upgrade_guest(&user).await? {
            // Upgraded (or deleted) by another request meanwhile.
            return Err(not_a_guest);
        }
        let ended = self.store.remove_sessions(&user.id, None).await?;
        self.live.ended_all(&user.id, None);
        tracing::info!(target: "audit", event = "guest_upgraded", user_id = %user.id, sessions_ended = ended, client_ip = %client.key());
        self.send_link(&user, LinkPurpose::VerifyEmail).await;
        Ok(user)
    }

    /// Deletes the guests idle for `GUEST_TTL`, with everything they own; returns how many.
    pub async fn sweep_idle_guests(&self) -> AppResult<usize> {
        let cutoff = self.clock.now() - chrono_duration(self.settings().guest_ttl);
        let gone = self.store.delete_idle_guests(cutoff).await?;
        for id in &gone {
            self.live.ended_all(id, None);
            tracing::info!(target: "audit", event = "guest_expired", user_id = %id);
        }
        Ok(gone.len())
    }
}
