//! What an operator does to one account from the command line (`quiz-llm admin user …`): look
//! at it, disable or enable it, end its sessions, mail its verification link again. Every change
//! goes to the audit log naming the operator (`actor`) and the account; nothing here ever shows
//! a secret (password hash, refresh token, TOTP secret, passkey key).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AuthService, links::LinkPurpose};
use crate::domain::{
    AppResult, UserId, UserRecord,
    identity::{email_key, login_key},
};

/// One account as `admin user show` reports it. The field names are what `--json` prints and
/// scripts read: they stay.
#[derive(Debug, Clone, Serialize)]
pub struct UserReport {
    pub id: String,
    pub username: String,
    /// `None` for a guest.
    pub email: Option<String>,
    pub verified: bool,
    pub disabled: bool,
    pub guest: bool,
    pub created_at: DateTime<Utc>,
    pub locale: String,
    pub sessions: Vec<SessionReport>,
    pub factors: FactorsReport,
    pub counts: CountsReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub sign_in_method: String,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactorsReport {
    pub totp: bool,
    pub passkeys: Vec<PasskeyReport>,
    pub social: Vec<SocialReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PasskeyReport {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SocialReport {
    pub provider: String,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountsReport {
    pub quizzes: u64,
    pub results: u64,
}

/// Why `resend-verification` sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoVerificationNeeded {
    AlreadyVerified,
    Guest,
}

impl AuthService {
    /// The account `who` names: a user id, an e-mail address (with an `@`) or a username,
    /// matched as login matches them.
    pub async fn admin_find_user(&self, who: &str) -> AppResult<Option<UserRecord>> {
        let who = who.trim();
        if let Some(id) = UserId::parse(who)
            && let Some(user) = self.store.find_user(&id).await?
        {
            return Ok(Some(user));
        }
        Ok(if who.contains('@') {
            self.store.find_user_by_email(&email_key(who)).await?
        } else {
            self.store.find_user_by_username(&login_key(who)).await?
        })
    }

    /// Everything `admin user show` prints about `user`, secrets left out.
    pub async fn admin_report(&self, user: &UserRecord) -> AppResult<UserReport> {
        let id = &user.id;
        let now = self.clock.now();
        let sessions = self
            .store
            .list_sessions(id, now)
            .await?
            .into_iter()
            .map(|s| SessionReport {
                id: s.id.to_string(),
                created_at: s.created_at,
                last_refreshed_at: s.last_refreshed_at,
                expires_at: s.expires_at,
                sign_in_method: s.method.as_str().to_ascii_lowercase(),
                user_agent: s.user_agent,
            })
            .collect();
        let passkeys = self
            .store
            .list_passkeys(id)
            .await?
            .into_iter()
            .map(|p| PasskeyReport {
                name: p.name,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect();
        let social = self
            .store
            .list_social_links(id)
            .await?
            .into_iter()
            .map(|l| SocialReport {
                provider: l.provider,
                linked_at: l.linked_at,
            })
            .collect();
        Ok(UserReport {
            id: id.to_string(),
            username: user.username.to_string(),
            email: user.email().map(|e| e.as_str().to_owned()),
            verified: user.is_active && !user.is_guest(),
            disabled: user.disabled,
            guest: user.is_guest(),
            created_at: user.created_at,
            locale: user.locale.as_str().to_owned(),
            sessions,
            factors: FactorsReport {
                totp: self.store.find_mfa(id).await?.enabled(),
                passkeys,
                social,
            },
            counts: CountsReport {
                quizzes: self.store.list_quiz_keys(id, None, 1).await?.total,
                results: self.store.count_results(id, None).await?,
            },
        })
    }

    /// Turns the account off and ends every session it has: no login or refresh works until
    /// [`admin_enable`](Self::admin_enable). Returns how many sessions ended.
    pub async fn admin_disable(&self, user: &UserRecord, actor: &str) -> AppResult<u64> {
        if !self.store.set_user_disabled(&user.id, true).await? {
            return Err(crate::domain::AppError::NotFound);
        }
        // After the flag, so a login racing this cannot start a session that survives it.
        let ended = self.store.remove_sessions(&user.id, None).await?;
        self.live.ended_all(&user.id, None);
        tracing::info!(target: "audit", event = "admin_user_disabled", actor, user_id = %user.id, sessions_ended = ended);
        Ok(ended)
    }

    pub async fn admin_enable(&self, user: &UserRecord, actor: &str) -> AppResult<()> {
        if !self.store.set_user_disabled(&user.id, false).await? {
            return Err(crate::domain::AppError::NotFound);
        }
        tracing::info!(target: "audit", event = "admin_user_enabled", actor, user_id = %user.id);
        Ok(())
    }

    /// Ends every session of the account (as `logoutAll` would); returns how many.
    pub async fn admin_end_sessions(&self, user: &UserRecord, actor: &str) -> AppResult<u64> {
        let ended = self.store.remove_sessions(&user.id, None).await?;
        self.live.ended_all(&user.id, None);
        tracing::info!(target: "audit", event = "admin_sessions_ended", actor, user_id = %user.id, sessions_ended = ended);
        Ok(ended)
    }

    /// Mails a new verification link to an account that has not confirmed its address yet,
    /// outside the rate limits a client's request counts against.
    pub async fn admin_resend_verification(
        &self,
        user: &UserRecord,
        actor: &str,
    ) -> AppResult<Result<(), NoVerificationNeeded>> {
        if user.is_guest() {
            return Ok(Err(NoVerificationNeeded::Guest));
        }
        if user.is_active {
            return Ok(Err(NoVerificationNeeded::AlreadyVerified));
        }
        self.send_link(user, LinkPurpose::VerifyEmail).await;
        tracing::info!(target: "audit", event = "admin_verification_resent", actor, user_id = %user.id);
        Ok(Ok(()))
    }
}

impl UserReport {
    /// The report as people read it: one block per part, times in UTC, no secrets.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let time = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let maybe_time = |t: &Option<DateTime<Utc>>| t.as_ref().map_or_else(|| "-".into(), time);
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let mut out = String::new();
        let rows = [
            ("id", self.id.clone()),
            ("username", self.username.clone()),
            ("email", self.email.clone().unwrap_or_else(|| "-".into())),
            ("verified", yes_no(self.verified).into()),
            ("disabled", yes_no(self.disabled).into()),
            ("guest", yes_no(self.guest).into()),
            ("created", time(&self.created_at)),
            ("locale", self.locale.clone()),
        ];
        let _ = writeln!(out, "Profile");
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<10} {v}");
        }
        let _ = writeln!(out, "\nSessions ({})", self.sessions.len());
        if !self.sessions.is_empty() {
            let _ = writeln!(
                out,
                "  {:<36}  {:<23}  {:<23}  {:<10}  user agent",
                "id", "created", "last refreshed", "method"
            );
        }
        for s in &self.sessions {
            let _ = writeln!(
                out,
                "  {:<36}  {:<23}  {:<23}  {:<10}  {}",
                s.id,
                time(&s.created_at),
                maybe_time(&s.last_refreshed_at),
                s.sign_in_method,
                s.user_agent.as_deref().unwrap_or("-")
            );
        }
        let _ = writeln!(out, "\nFactors");
        let _ = writeln!(
            out,
            "  {:<10} {}",
            "totp",
            if self.factors.totp { "on" } else { "off" }
        );
        if self.factors.passkeys.is_empty() {
            let _ = writeln!(out, "  {:<10} none", "passkeys");
        }
        for p in &self.factors.passkeys {
            let _ = writeln!(
                out,
                "  {:<10} {} (added {}, last used {})",
                "passkey",
                p.name,
                time(&p.created_at),
                maybe_time(&p.last_used_at)
            );
        }
        if self.factors.social.is_empty() {
            let _ = writeln!(out, "  {:<10} none", "social");
        }
        for l in &self.factors.social {
            let _ = writeln!(
                out,
                "  {:<10} {} (linked {})",
                "social",
                l.provider,
                time(&l.linked_at)
            );
        }
        let _ = writeln!(out, "\nCounts");
        let _ = writeln!(out, "  {:<10} {}", "quizzes", self.counts.quizzes);
        let _ = writeln!(out, "  {:<10} {}", "results", self.counts.results);
        out
    }
}
