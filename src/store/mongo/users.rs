//! Accounts, with their login sessions in each user's `sessions` array.

use super::*;

impl MongoStore {
    /// Once per database: gives every user the keys the current rules compute (see
    /// [`renormalized`]). Safe to rerun after an interruption: keys are computed from the
    /// username and address, never from the stored keys.
    pub(super) async fn migrate_user_keys(&self) -> anyhow::Result<()> {
        let migrations = self.db.collection::<Document>("migrations");
        let done = doc! { "_id": USER_KEYS_MIGRATION };
        if migrations.find_one(done.clone()).await?.is_some() {
            return Ok(());
        }
        /// A user's keys alone.
        #[derive(Deserialize)]
        struct Keys {
            #[serde(rename = "_id")]
            id: UserId,
            username: String,
            email: String,
            username_norm: String,
            email_norm: String,
        }
        let users: Vec<Keys> = self
            .users
            .clone_with_type()
            // Guests have no address, and keys that no rule recomputes.
            .find(doc! { "email": { "$exists": true } })
            .projection(doc! { "username": 1, "email": 1, "username_norm": 1, "email_norm": 1 })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await?
            .try_collect()
            .await?;
        let changed = renormalized(
            users
                .into_iter()
                .map(|u| UserKeys {
                    id: u.id.to_string(),
                    username: u.username,
                    email: u.email,
                    username_norm: u.username_norm,
                    email_norm: u.email_norm,
                })
                .collect(),
        );
        // Park the changing keys on values no user can hold first, so that no update meets a
        // key another user is about to give up.
        for u in &changed {
            let parked = format!("#{}", u.id);
            self.users
                .update_one(
                    doc! { "_id": &u.id },
                    doc! { "$set": { "username_norm": &parked, "email_norm": &parked } },
                )
                .await?;
        }
        for u in &changed {
            self.users
                .update_one(
                    doc! { "_id": &u.id },
                    doc! { "$set": { "username_norm": &u.username_norm, "email_norm": &u.email_norm } },
                )
                .await?;
        }
        if !changed.is_empty() {
            tracing::info!(users = changed.len(), "recomputed username and e-mail keys");
        }
        // Another process may have finished first; either way it is done.
        match migrations.insert_one(done).await {
            Err(err) if !is_duplicate_key(&err) => Err(err.into()),
            _ => Ok(()),
        }
    }

    async fn find_user_by(&self, filter: Document) -> StoreResult<Option<UserRecord>> {
        Ok(self
            .users
            .find_one(filter)
            .projection(doc! { "sessions": 0 })
            .await
            .map_err(map_err)?
            .map(|UserDoc(u)| u))
    }

    pub(super) async fn insert_new_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.users
            .clone_with_type::<Document>()
            .insert_one(new_user_document(user)?)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        Ok(self
            .users
            .clone_with_type::<Sessions>()
            .find_one(doc! { "_id": user.as_str() })
            .projection(doc! { "sessions": 1, "_id": 0 })
            .await
            .map_err(map_err)?
            .map_or_else(Vec::new, Sessions::records))
    }

    /// Deletes what the users own outside their documents (sessions live inside them).
    pub(super) async fn delete_owned_data(&self, ids: &[UserId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let owned =
            doc! { "owner_id": { "$in": ids.iter().map(UserId::as_str).collect::<Vec<_>>() } };
        self.quizzes
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.results
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.jobs
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.events
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.delete_owned_materials(ids).await?;
        self.delete_owned_reviews(&owned).await?;
        self.delete_owned_social_links(ids).await?;
        self.delete_owned_email_changes(ids).await?;
        let by_user =
            doc! { "user_id": { "$in": ids.iter().map(UserId::as_str).collect::<Vec<_>>() } };
        self.passkeys
            .delete_many(by_user.clone())
            .await
            .map_err(map_err)?;
        self.passkey_challenges
            .delete_many(by_user.clone())
            .await
            .map_err(map_err)?;
        self.stream_leases()
            .delete_many(by_user.clone())
            .await
            .map_err(map_err)?;
        self.sign_in_requests()
            .delete_many(by_user)
            .await
            .map_err(map_err)?;
        self.social_logins()
            .delete_many(
                doc! { "link_to": { "$in": ids.iter().map(UserId::as_str).collect::<Vec<_>>() } },
            )
            .await
            .map_err(map_err)?;
        for id in ids {
            // Slot ids are `<owner>#<n>`; a user id has no regex metacharacter but `-`.
            self.db
                .collection::<Document>("job_slots")
                .delete_many(doc! { "_id": { "$regex": format!("^{id}#") } })
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// Deletes the mail waiting to go to `email_norm`.
    async fn delete_mail_to(&self, email_norm: &str) -> StoreResult<()> {
        #[derive(Deserialize)]
        struct Addressed {
            #[serde(rename = "_id")]
            id: String,
            to: String,
        }
        let mail: Vec<String> = self
            .outbox
            .clone_with_type::<Addressed>()
            .find(doc! {})
            .projection(doc! { "_id": 1, "to": 1 })
            .await
            .map_err(map_err)?
            .try_filter_map(|m| async move {
                Ok(crate::domain::mailbox_is_for(&m.to, email_norm).then_some(m.id))
            })
            .try_collect()
            .await
            .map_err(map_err)?;
        if !mail.is_empty() {
            self.outbox
                .delete_many(doc! { "_id": { "$in": mail } })
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// Erasures started and not known to have finished: `_id` the user, with its address.
    fn account_erasures(&self) -> Collection<Document> {
        self.db.collection("account_erasures")
    }

    /// Everything of the user's but the user document, then the erasure's own record.
    async fn finish_erasure(&self, erasure: &Erasure) -> StoreResult<()> {
        self.delete_owned_data(std::slice::from_ref(&erasure.id))
            .await?;
        self.sign_in_requests()
            .delete_many(doc! { "_id": &erasure.email_norm })
            .await
            .map_err(map_err)?;
        for address in std::iter::once(&erasure.email_norm).chain(&erasure.pending_email_norm) {
            self.delete_mail_to(address).await?;
        }
        self.account_erasures()
            .delete_one(doc! { "_id": erasure.id.as_str() })
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Deletes the never-verified accounts `filter` finds, with everything they own; returns
    /// their ids. One by one (there are two at most), so that exactly the deleted ones lose
    /// their data: a guest that signed up and never confirmed has some.
    pub(super) async fn delete_pending_holders(
        &self,
        filter: Document,
    ) -> StoreResult<Vec<UserId>> {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(rename = "_id")]
            id: UserId,
        }
        let pending: Vec<Holder> = self
            .users
            .clone_with_type::<Holder>()
            .find(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let mut gone = Vec::new();
        for Holder { id } in pending {
            let deleted = self
                .users
                .delete_one(doc! { "_id": id.as_str(), "is_active": false })
                .await
                .map_err(map_err)?
                .deleted_count;
            if deleted == 1 {
                gone.push(id);
            }
        }
        self.delete_owned_data(&gone).await?;
        Ok(gone)
    }

    /// Writes `user` (a new user, or a guest's sign-up) over the never-verified holders of its
    /// keys. No transactions here: check, delete and write, and start over when another sign-up
    /// took a key in between (the unique indexes tell); each round, one racer wins. `None` when
    /// the guest to upgrade is gone.
    async fn write_replacing_pending(
        &self,
        user: &UserRecord,
        write: UserWrite,
    ) -> StoreResult<Option<u64>> {
        let keys = StoredUserKeys::of(user);
        let holders = |active: bool| {
            doc! {
                "is_active": active,
                "_id": { "$ne": user.id.as_str() },
                "$or": [
                    { "username_norm": user.username_norm.as_str() },
                    { "email_norm": keys.email_norm.as_str() },
                ],
            }
        };
        let mut replaced = 0;
        let mut last = StoreError::Conflict(UniqueField::Email);
        for _ in 0..REPLACE_ATTEMPTS {
            // Checked first, so that a sign-up a verified account blocks deletes nothing.
            if let Some(holder) = self.find_user_by(holders(true)).await? {
                let field = if holder.username_norm == user.username_norm {
                    UniqueField::Username
                } else {
                    UniqueField::Email
                };
                return Err(StoreError::Conflict(field));
            }
            let gone = self.delete_pending_holders(holders(false)).await?;
            replaced += gone.len() as u64;
            let written = match write {
                UserWrite::Insert => self.insert_new_user(user).await.map(|()| true),
                UserWrite::UpgradeGuest => self.set_guest_credentials(user, &keys).await,
            };
            match written {
                Ok(true) => return Ok(Some(replaced)),
                Ok(false) => return Ok(None),
                Err(err @ StoreError::Conflict(_)) => last = err,
                Err(err) => return Err(err),
            }
            tokio::task::yield_now().await;
        }
        Err(last)
    }

    async fn set_guest_credentials(
        &self,
        user: &UserRecord,
        keys: &StoredUserKeys,
    ) -> StoreResult<bool> {
        let Some(c) = &user.credentials else {
            return Err(StoreError::Other(anyhow::anyhow!(
                "a guest's sign-up needs credentials"
            )));
        };
        let result = self
            .users
            .update_one(
                doc! {
                    "_id": user.id.as_str(),
                    "is_guest": true,
                    "email": { "$exists": false },
                    "expired": { "$exists": false },
                },
                doc! { "$set": {
                    "username": user.username.as_str(),
                    "username_norm": user.username_norm.as_str(),
                    "email": c.email.as_str(),
                    "email_norm": keys.email_norm.as_str(),
                    "password_hash": c.password_hash.expose(),
                    "is_active": user.is_active,
                    "created_at": to_bson(user.created_at),
                } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }
}

/// Which write [`MongoStore::write_replacing_pending`] makes.
#[derive(Debug, Clone, Copy)]
enum UserWrite {
    Insert,
    UpgradeGuest,
}

/// The e-mail key as stored (a guest's placeholder included).
struct StoredUserKeys {
    email_norm: String,
}

impl StoredUserKeys {
    fn of(user: &UserRecord) -> Self {
        StoredUserKeys {
            email_norm: user
                .credentials
                .as_ref()
                .map_or_else(|| guest_email_key(&user.id), |c| c.email_norm.clone()),
        }
    }
}

#[async_trait]
impl UserStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_user_replacing_pending", db.system.name = SYSTEM, db.operation.name = "insert_user_replacing_pending"))]
    async fn insert_user_replacing_pending(&self, user: &UserRecord) -> StoreResult<u64> {
        Ok(self
            .write_replacing_pending(user, UserWrite::Insert)
            .await?
            .unwrap_or_default())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store upgrade_guest", db.system.name = SYSTEM, db.operation.name = "upgrade_guest"))]
    async fn upgrade_guest(&self, user: &UserRecord) -> StoreResult<bool> {
        Ok(self
            .write_replacing_pending(user, UserWrite::UpgradeGuest)
            .await?
            .is_some())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_pending_users", db.system.name = SYSTEM, db.operation.name = "delete_pending_users"))]
    async fn delete_pending_users(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .users
            .delete_many(doc! {
                "is_active": false,
                "is_guest": { "$ne": true },
                "created_at": { "$lt": to_bson(cutoff) },
            })
            .await
            .map_err(map_err)?
            .deleted_count)
    }

    /// In three steps that a later sweep finishes if this one is cut short: mark each idle
    /// guest `expired` and drop its sessions (one atomic update each, which a refresh racing
    /// it either beats or finds nothing to refresh after), delete what the marked ones own,
    /// then the marked users. A TTL index would delete the user document alone.
    /// Without transactions this takes several writes: first a record of the erasure, then the
    /// user document (so from here on nobody can log in as it), then the rest. A crash in
    /// between leaves the record, and `finish_account_erasures` completes it.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_user", db.system.name = SYSTEM, db.operation.name = "delete_user"))]
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        #[derive(Deserialize)]
        struct Address {
            email_norm: String,
        }
        let Some(Address { email_norm }) = self
            .users
            .clone_with_type::<Address>()
            .find_one(doc! { "_id": id.as_str() })
            .projection(doc! { "email_norm": 1, "_id": 0 })
            .await
            .map_err(map_err)?
        else {
            return Ok(false);
        };
        // The confirmation of an address change was mailed for this account too.
        let pending_email_norm = self
            .find_email_change(id)
            .await?
            .map(|change| change.new_email_norm);
        let erasure = Erasure {
            id: id.clone(),
            email_norm,
            pending_email_norm,
        };
        self.account_erasures()
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": {
                    "email_norm": &erasure.email_norm,
                    "pending_email_norm": erasure.pending_email_norm.as_deref(),
                } },
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        let deleted = self
            .users
            .delete_one(doc! { "_id": id.as_str() })
            .await
            .map_err(map_err)?
            .deleted_count;
        self.finish_erasure(&erasure).await?;
        Ok(deleted == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store finish_account_erasures", db.system.name = SYSTEM, db.operation.name = "finish_account_erasures"))]
    async fn finish_account_erasures(&self) -> StoreResult<u64> {
        let left: Vec<Erasure> = self
            .account_erasures()
            .clone_with_type::<Erasure>()
            .find(doc! {})
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        for erasure in &left {
            self.users
                .delete_one(doc! { "_id": erasure.id.as_str() })
                .await
                .map_err(map_err)?;
            self.finish_erasure(erasure).await?;
        }
        Ok(left.len() as u64)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_idle_guests", db.system.name = SYSTEM, db.operation.name = "delete_idle_guests"))]
    async fn delete_idle_guests(&self, cutoff: DateTime<Utc>) -> StoreResult<Vec<UserId>> {
        let cutoff = to_bson(cutoff);
        let idle = doc! {
            "is_guest": true,
            "created_at": { "$lt": cutoff },
            "sessions": { "$not": { "$elemMatch": { "$or": [
                { "created_at": { "$gte": cutoff } },
                { "last_refreshed_at": { "$gte": cutoff } },
            ] } } },
        };
        self.users
            .update_many(idle, doc! { "$set": { "expired": true, "sessions": [] } })
            .await
            .map_err(map_err)?;
        #[derive(Deserialize)]
        struct Id {
            #[serde(rename = "_id")]
            id: UserId,
        }
        let ids: Vec<UserId> = self
            .users
            .clone_with_type::<Id>()
            .find(doc! { "expired": true })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(map_err)?
            .map_ok(|i| i.id)
            .try_collect()
            .await
            .map_err(map_err)?;
        self.delete_owned_data(&ids).await?;
        self.users
            .delete_many(doc! { "expired": true })
            .await
            .map_err(map_err)?;
        Ok(ids)
    }

    /// A TTL index on `created_at` that holds only unverified users: an account leaves it
    /// when it is confirmed. One made with another TTL is replaced (MongoDB would refuse to
    /// create it again, and the index only speeds up clean-up, so a moment without it is fine).
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store expire_pending_users_after", db.system.name = SYSTEM, db.operation.name = "expire_pending_users_after"))]
    async fn expire_pending_users_after(&self, ttl: std::time::Duration) -> StoreResult<()> {
        // MongoDB keeps the TTL as a 32-bit number of seconds.
        let ttl = std::time::Duration::from_secs(ttl.as_secs().min(i32::MAX as u64));
        let options = IndexOptions::builder()
            .name(PENDING_EXPIRY_INDEX.to_owned())
            .expire_after(ttl)
            // Not guests that signed up: their data makes them the guest sweep's. Users stored
            // before guests lack `is_guest`; the periodic purge takes those.
            .partial_filter_expression(doc! { "is_active": false, "is_guest": false })
            .build();
        let existing = self
            .users
            .list_indexes()
            .await
            .map_err(map_err)?
            .try_collect::<Vec<IndexModel>>()
            .await
            .map_err(map_err)?
            .into_iter()
            .filter_map(|index| index.options)
            .find(|o| o.name.as_deref() == Some(PENDING_EXPIRY_INDEX));
        if let Some(current) = existing {
            if (current.expire_after, &current.partial_filter_expression)
                == (options.expire_after, &options.partial_filter_expression)
            {
                return Ok(());
            }
            match self.users.drop_index(PENDING_EXPIRY_INDEX).await {
                // Another process starting at the same time may have dropped it first.
                Err(err) if !is_index_not_found(&err) => return Err(map_err(err)),
                _ => {}
            }
        }
        let index = IndexModel::builder()
            .keys(doc! { "created_at": 1 })
            .options(options)
            .build();
        self.users.create_index(index).await.map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user", db.system.name = SYSTEM, db.operation.name = "find_user"))]
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "_id": id.as_str() }).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user_by_username", db.system.name = SYSTEM, db.operation.name = "find_user_by_username"))]
    async fn find_user_by_username(&self, username_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "username_norm": username_norm })
            .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_user_by_email", db.system.name = SYSTEM, db.operation.name = "find_user_by_email"))]
    async fn find_user_by_email(&self, email_norm: &str) -> StoreResult<Option<UserRecord>> {
        self.find_user_by(doc! { "email_norm": email_norm }).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store activate_user", db.system.name = SYSTEM, db.operation.name = "activate_user"))]
    async fn activate_user(&self, id: &UserId) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": id.as_str(), "is_active": false },
                doc! { "$set": { "is_active": true, "is_guest": false } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_user_disabled", db.system.name = SYSTEM, db.operation.name = "set_user_disabled"))]
    async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> StoreResult<bool> {
        // Enabled is the field's absence, as in users stored before accounts could be disabled.
        let update = if disabled {
            doc! { "$set": { "disabled": true } }
        } else {
            doc! { "$unset": { "disabled": "" } }
        };
        let result = self
            .users
            .update_one(doc! { "_id": id.as_str() }, update)
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_user_locale", db.system.name = SYSTEM, db.operation.name = "set_user_locale"))]
    async fn set_user_locale(&self, id: &UserId, locale: Locale) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": { "locale": locale.as_str() } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store add_session", db.system.name = SYSTEM, db.operation.name = "add_session"))]
    async fn add_session(&self, user: &UserId, session: &SessionRecord) -> StoreResult<bool> {
        let session = session_document(session)?;
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str() },
                doc! { "$push": { "sessions": {
                    "$each": [session],
                    "$slice": -(MAX_SESSIONS_PER_USER as i64),
                } } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_session", db.system.name = SYSTEM, db.operation.name = "find_session"))]
    async fn find_session(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(self
            .sessions_of(user)
            .await?
            .into_iter()
            .find(|s| &s.id == session))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_sessions", db.system.name = SYSTEM, db.operation.name = "list_sessions"))]
    async fn list_sessions(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let mut sessions = self.sessions_of(user).await?;
        // At most MAX_SESSIONS_PER_USER, so filtering here costs nothing.
        sessions.retain(|s| s.expires_at > now);
        // The array is in insertion order; newest first is what clients show.
        sessions.reverse();
        Ok(sessions)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store rotate_refresh_token", db.system.name = SYSTEM, db.operation.name = "rotate_refresh_token"))]
    async fn rotate_refresh_token(
        &self,
        user: &UserId,
        session: &SessionId,
        expected: &RefreshToken,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! {
                    "_id": user.as_str(),
                    "sessions": { "$elemMatch": {
                        "id": session.as_str(),
                        "refresh_token": expected.expose(),
                    } },
                },
                // arrayFilters rather than the positional `$`: the element to change is named
                // by id alone, while the filter above still carries the old token.
                doc! { "$set": {
                    "sessions.$[s].refresh_token": rotation.refresh_token.expose(),
                    "sessions.$[s].last_refreshed_at": to_bson(rotation.at),
                    "sessions.$[s].generation": rotation.generation,
                    "sessions.$[s].refreshes": window_count_document(&rotation.refreshes)?,
                } },
            )
            .array_filters(vec![doc! { "s.id": session.as_str() }])
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_session_authenticated", db.system.name = SYSTEM, db.operation.name = "set_session_authenticated"))]
    async fn set_session_authenticated(
        &self,
        user: &UserId,
        session: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str(), "sessions.id": session.as_str() },
                doc! { "$set": { "sessions.$.authenticated_at": to_bson(at) } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_session", db.system.name = SYSTEM, db.operation.name = "remove_session"))]
    async fn remove_session(&self, user: &UserId, session: &SessionId) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str(), "sessions.id": session.as_str() },
                doc! { "$pull": { "sessions": { "id": session.as_str() } } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store remove_sessions", db.system.name = SYSTEM, db.operation.name = "remove_sessions"))]
    async fn remove_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> StoreResult<u64> {
        let update = match keep {
            Some(keep) => doc! { "$pull": { "sessions": { "id": { "$ne": keep.as_str() } } } },
            None => doc! { "$set": { "sessions": [] } },
        };
        // One atomic update; the sessions it saw tell how many went.
        let before = self
            .users
            .clone_with_type::<Sessions>()
            .find_one_and_update(doc! { "_id": user.as_str() }, update)
            .projection(doc! { "sessions": 1, "_id": 0 })
            .return_document(ReturnDocument::Before)
            .await
            .map_err(map_err)?
            .map_or_else(Vec::new, Sessions::records);
        Ok(before.iter().filter(|s| Some(&s.id) != keep).count() as u64)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_password_hash", db.system.name = SYSTEM, db.operation.name = "set_password_hash"))]
    async fn set_password_hash(
        &self,
        user: &UserId,
        expected: &PasswordHash,
        replacement: &PasswordHash,
    ) -> StoreResult<bool> {
        let result = self
            .users
            .update_one(
                doc! { "_id": user.as_str(), "password_hash": expected.expose() },
                doc! { "$set": { "password_hash": replacement.expose() } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }
}

/// An erasure as recorded before the user document goes: the addresses whose mail goes too.
#[derive(Deserialize)]
struct Erasure {
    #[serde(rename = "_id")]
    id: UserId,
    email_norm: String,
    #[serde(default)]
    pending_email_norm: Option<String>,
}
