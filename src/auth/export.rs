//! `exportMyData`: everything the server holds on the caller, as one JSON document (GDPR
//! articles 15 and 20), with a version so tools reading it can tell its shape. Secrets stay
//! out: no password hash, refresh token, TOTP secret, recovery code or passkey key.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{AuthService, Claims};
use crate::domain::{AppResult, ClientInfo, PageAfter};

/// The export's shape; a change that removes or renames a field gets a new version.
pub const EXPORT_VERSION: u32 = 1;

/// Records read per store call while walking a user's lists.
const PAGE: usize = 100;
/// More review cards than anyone answers questions.
const MAX_CARDS: usize = 10_000_000;

impl AuthService {
    /// The caller's data, after a recent proof of who they are (as for changing a factor).
    pub async fn export_my_data(&self, claims: &Claims, client: &ClientInfo) -> AppResult<Value> {
        let user = self.recently_authenticated(claims).await?;
        let id = &user.id;
        let store = &self.store;
        let time = |t: DateTime<Utc>| t.to_rfc3339();

        let sessions: Vec<Value> = store
            .list_sessions(id, self.clock.now())
            .await?
            .into_iter()
            .map(|s| {
                json!({
                    "id": s.id.to_string(),
                    "createdAt": time(s.created_at),
                    "lastRefreshedAt": s.last_refreshed_at.map(time),
                    "expiresAt": time(s.expires_at),
                    "authenticatedAt": time(s.authenticated_at),
                    "userAgent": s.user_agent,
                    "signInMethod": s.method.as_str(),
                })
            })
            .collect();
        let mfa = store.find_mfa(id).await?;
        let passkeys: Vec<Value> = store
            .list_passkeys(id)
            .await?
            .into_iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "createdAt": time(p.created_at),
                    "lastUsedAt": p.last_used_at.map(time),
                })
            })
            .collect();
        let social: Vec<Value> = store
            .list_social_links(id)
            .await?
            .into_iter()
            .map(|l| {
                json!({
                    "provider": l.provider,
                    "issuer": l.issuer,
                    "subject": l.subject,
                    "email": l.email,
                    "linkedAt": time(l.linked_at),
                })
            })
            .collect();

        let mut quizzes = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_quiz_keys(id, after.as_ref(), PAGE).await?;
            let Some(last) = page.keys.last() else { break };
            after = Some(PageAfter {
                at: last.created_at,
                id: last.id.to_string(),
            });
            let ids: Vec<_> = page.keys.iter().map(|k| k.id.clone()).collect();
            let mut found = store.find_quizzes(id, &ids).await?;
            found.sort_by_key(|q| std::cmp::Reverse(q.created_at));
            quizzes.extend(found);
            if page.keys.len() < PAGE {
                break;
            }
        }
        let mut results = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_results(id, None, after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(PageAfter {
                at: last.submitted_at,
                id: last.id.to_string(),
            });
            let full = page.len() == PAGE;
            results.extend(page);
            if !full {
                break;
            }
        }
        let mut materials = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_materials(id, after.as_ref(), PAGE).await?;
            let Some(last) = page.items.last() else { break };
            after = Some(PageAfter {
                at: last.created_at,
                id: last.id.to_string(),
            });
            for summary in &page.items {
                if let Some(m) = store.find_material(id, &summary.id).await? {
                    materials.push(json!({
                        "id": m.summary.id.to_string(),
                        "title": m.summary.title,
                        "mediaType": m.summary.media_type.as_str(),
                        "pageCount": m.summary.page_count,
                        "charCount": m.summary.char_count,
                        "createdAt": time(m.summary.created_at),
                        "sha256": m.sha256,
                        "text": m.text,
                    }));
                }
            }
            if page.items.len() < PAGE {
                break;
            }
        }
        // Every card is due within a thousand years; no log is older than the epoch.
        let far = self.clock.now() + chrono::Duration::days(365 * 1000);
        let cards = store.due_review_cards(id, far, MAX_CARDS).await?;
        let logs = store
            .review_logs_since(id, DateTime::<Utc>::UNIX_EPOCH)
            .await?;

        // No token hash: a link's secret is not the owner's data.
        let email_change = store.find_email_change(id).await?.map(|c| {
            json!({
                "oldEmail": c.old_email.as_str(),
                "newEmail": c.new_email.as_str(),
                "requestedAt": time(c.created_at),
                "confirmedAt": c.confirmed_at.map(time),
                "undoableUntil": time(c.expires_at),
            })
        });

        tracing::info!(target: "audit", event = "data_exported", user_id = %id, client_ip = %client.key());
        Ok(json!({
            "version": EXPORT_VERSION,
            "exportedAt": time(self.clock.now()),
            "profile": {
                "id": id.to_string(),
                "username": user.username.as_str(),
                "email": user.email().map(|e| e.as_str()),
                "emailVerified": user.is_active,
                "hasPassword": user.password_hash().is_some(),
                "disabled": user.disabled,
                "locale": user.locale.as_str(),
                "createdAt": time(user.created_at),
            },
            "emailChange": email_change,
            "sessions": sessions,
            "factors": {
                "totp": { "enabled": mfa.enabled(), "recoveryCodesLeft": mfa.recovery_codes.len() },
                "passkeys": passkeys,
            },
            "socialAccounts": social,
            "quizzes": quizzes,
            "results": results,
            "studyMaterials": materials,
            "review": {
                "desiredRetention": store.desired_retention(id).await?,
                "cards": cards,
                "logs": logs,
            },
        }))
    }
}
