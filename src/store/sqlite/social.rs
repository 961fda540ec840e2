//! Linked identities in `social_links` (deleted with their user), waiting logins in
//! `social_logins`.

use crate::domain::{SocialLinkRecord, SocialLoginRecord};
use crate::store::SocialStore;

use super::*;

const LINK_COLUMNS: &str = "user_id, provider, issuer, subject, email, linked_at";
const LOGIN_COLUMNS: &str =
    "state_hash, provider, nonce, pkce_verifier, return_to, link_to, expires_at";

fn link_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SocialLinkRecord> {
    Ok(SocialLinkRecord {
        user_id: id_at(r, 0)?,
        provider: r.get(1)?,
        issuer: r.get(2)?,
        subject: r.get(3)?,
        email: r.get(4)?,
        linked_at: time_at(r, 5)?,
    })
}

fn login_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SocialLoginRecord> {
    Ok(SocialLoginRecord {
        state_hash: r.get(0)?,
        provider: r.get(1)?,
        nonce: r.get(2)?,
        pkce_verifier: r.get(3)?,
        return_to: r.get(4)?,
        link_to: optional_id_at(r, 5)?,
        expires_at: time_at(r, 6)?,
    })
}

#[async_trait]
impl SocialStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_social_login", db.system.name = SYSTEM, db.operation.name = "insert_social_login"))]
    async fn insert_social_login(&self, login: &SocialLoginRecord) -> StoreResult<()> {
        let l = login.clone();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO social_logins ({LOGIN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                l.state_hash,
                l.provider,
                l.nonce,
                l.pkce_verifier,
                l.return_to,
                l.link_to.as_ref().map(UserId::as_str),
                millis(l.expires_at)
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store take_social_login", db.system.name = SYSTEM, db.operation.name = "take_social_login"))]
    async fn take_social_login(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SocialLoginRecord>> {
        let state_hash = state_hash.to_owned();
        self.run(move |c| {
            c.prepare_cached(&format!(
                "DELETE FROM social_logins WHERE state_hash = ?1 AND expires_at > ?2 \
                 RETURNING {LOGIN_COLUMNS}"
            ))?
            .query_row(params![state_hash, millis(now)], login_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store purge_social_logins", db.system.name = SYSTEM, db.operation.name = "purge_social_logins"))]
    async fn purge_social_logins(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM social_logins WHERE expires_at <= ?1")?
                .execute([millis(now)])?;
            Ok(n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_social_link", db.system.name = SYSTEM, db.operation.name = "find_social_link"))]
    async fn find_social_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<SocialLinkRecord>> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM social_links WHERE issuer = ?1 AND subject = ?2"
            ))?
            .query_row([issuer, subject], link_from)
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_social_link", db.system.name = SYSTEM, db.operation.name = "insert_social_link"))]
    async fn insert_social_link(&self, link: &SocialLinkRecord) -> StoreResult<bool> {
        let l = link.clone();
        self.run(move |c| {
            let n = c
                .prepare_cached(&format!(
                    "INSERT INTO social_links ({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT DO NOTHING"
                ))?
                .execute(params![
                    l.user_id.as_str(),
                    l.provider,
                    l.issuer,
                    l.subject,
                    l.email,
                    millis(l.linked_at)
                ])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_social_links", db.system.name = SYSTEM, db.operation.name = "list_social_links"))]
    async fn list_social_links(&self, user: &UserId) -> StoreResult<Vec<SocialLinkRecord>> {
        let user = user.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM social_links WHERE user_id = ?1 \
                 ORDER BY linked_at, provider"
            ))?
            .query_map([user], link_from)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_social_link", db.system.name = SYSTEM, db.operation.name = "delete_social_link"))]
    async fn delete_social_link(&self, user: &UserId, provider: &str) -> StoreResult<bool> {
        let (user, provider) = (user.to_string(), provider.to_owned());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM social_links WHERE user_id = ?1 AND provider = ?2")?
                .execute([user, provider])?;
            Ok(n == 1)
        })
        .await
    }
}
