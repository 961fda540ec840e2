//! How the records look in MongoDB: serde's remote derives name each field as stored (`_id`,
//! `owner_id`, BSON dates) without copying the records into mirror structs, so the records' own
//! serde format stays the JSON that SQLite keeps. A field added to a record fails to compile
//! here until it is given a place.

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};

use crate::store::*;

/// A user as stored: a guest has no `email` or `password_hash`, and a placeholder
/// `email_norm` (the unique index needs one).
#[derive(Serialize, Deserialize)]
struct StoredUser {
    #[serde(rename = "_id")]
    id: UserId,
    username: Username,
    username_norm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<EmailAddress>,
    email_norm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<PasswordHash>,
    is_active: bool,
    /// Made as a guest and its address not confirmed yet: the guest sweep's, not the pending
    /// purge's. Absent in users stored before guests.
    #[serde(default)]
    is_guest: bool,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    /// Absent in users stored before locales: English.
    #[serde(default)]
    locale: StoredLocale,
    /// Absent unless an operator disabled the account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
}

/// A locale as its tag; a tag this build does not know reads as the default.
#[derive(Default)]
struct StoredLocale(Locale);

impl Serialize for StoredLocale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for StoredLocale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tag = String::deserialize(d)?;
        Ok(StoredLocale(Locale::from_tag(&tag).unwrap_or_default()))
    }
}

impl From<&UserRecord> for StoredUser {
    fn from(u: &UserRecord) -> Self {
        let c = u.credentials.clone();
        StoredUser {
            id: u.id.clone(),
            username: u.username.clone(),
            username_norm: u.username_norm.clone(),
            email_norm: c
                .as_ref()
                .map_or_else(|| guest_email_key(&u.id), |c| c.email_norm.clone()),
            email: c.as_ref().map(|c| c.email.clone()),
            password_hash: c.map(|c| c.password_hash),
            is_active: u.is_active,
            is_guest: u.is_guest(),
            created_at: u.created_at,
            locale: StoredLocale(u.locale),
            disabled: u.disabled,
        }
    }
}

impl TryFrom<StoredUser> for UserRecord {
    type Error = String;

    fn try_from(u: StoredUser) -> Result<Self, String> {
        let credentials = match (u.email, u.password_hash) {
            (Some(email), Some(password_hash)) => Some(Credentials {
                email,
                email_norm: u.email_norm,
                password_hash,
            }),
            (None, None) => None,
            _ => return Err(format!("user {} has half its credentials", u.id)),
        };
        Ok(UserRecord {
            id: u.id,
            username: u.username,
            username_norm: u.username_norm,
            credentials,
            is_active: u.is_active,
            created_at: u.created_at,
            locale: u.locale.0,
            disabled: u.disabled,
        })
    }
}

/// One element of a user's `sessions` array.
#[derive(Serialize, Deserialize)]
#[serde(remote = "SessionRecord")]
struct SessionDef {
    id: SessionId,
    refresh_token: RefreshToken,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    expires_at: DateTime<Utc>,
    #[serde(default, with = "bson_time::optional")]
    last_refreshed_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    /// Absent in sessions written before refresh-reuse detection.
    #[serde(default)]
    generation: i64,
    /// Absent in sessions written before it was recorded: a password login.
    #[serde(rename = "sign_in_method", default)]
    method: SignInMethod,
    /// Absent in sessions written before refresh counts lived on the session.
    #[serde(default, with = "WindowCountDef")]
    refreshes: WindowCount,
    /// Absent in sessions written before it was recorded: long ago, so they reauthenticate.
    #[serde(default = "long_ago", with = "bson_time")]
    authenticated_at: DateTime<Utc>,
}

fn long_ago() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "WindowCount")]
struct WindowCountDef {
    window: i64,
    current: u32,
    previous: u32,
}

/// `WindowCount` as the BSON a session's `refreshes` holds.
pub(super) fn window_count_document(count: &WindowCount) -> StoreResult<Document> {
    #[derive(Serialize)]
    struct Doc(#[serde(with = "WindowCountDef")] WindowCount);
    to_document(&Doc(*count))
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "QuizRecord")]
struct QuizDef {
    #[serde(rename = "_id")]
    id: QuizId,
    #[serde(rename = "owner_id")]
    owner: UserId,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    title: String,
    description: String,
    topic: String,
    difficulty: Difficulty,
    source: QuizSource,
    language: String,
    questions: Vec<QuestionRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "QuizResultRecord")]
struct ResultDef {
    #[serde(rename = "_id")]
    id: ResultId,
    #[serde(rename = "owner_id")]
    owner: UserId,
    quiz_id: QuizId,
    #[serde(with = "bson_time")]
    submitted_at: DateTime<Utc>,
    quiz_title: String,
    language: String,
    answers: Vec<AnswerRecord>,
    correct_count: u32,
    total_questions: u32,
    score: f64,
    feedback: Option<FeedbackRecord>,
}

/// A dead letter also has `dead_at`, which only filters and so stays out of the record.
#[derive(Serialize, Deserialize)]
#[serde(remote = "OutboxRecord")]
struct MailDef {
    #[serde(rename = "_id")]
    id: MailId,
    to: String,
    subject: String,
    text: String,
    html: String,
    attempts: u32,
    #[serde(with = "bson_time")]
    next_attempt_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    last_error: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "GenerationJobRecord")]
struct JobDef {
    #[serde(rename = "_id")]
    id: JobId,
    #[serde(rename = "owner_id")]
    owner: UserId,
    input: JobInput,
    status: JobStatus,
    progress: f64,
    questions_ready: u32,
    quiz_id: Option<QuizId>,
    error: Option<JobErrorRecord>,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson_time")]
    updated_at: DateTime<Utc>,
    version: i64,
    lease_owner: Option<String>,
    #[serde(default, with = "bson_time::optional")]
    lease_until: Option<DateTime<Utc>>,
    attempts: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "QuizEventRecord")]
struct EventDef {
    #[serde(rename = "_id")]
    id: EventId,
    #[serde(rename = "owner_id")]
    owner: UserId,
    kind: QuizEventKind,
    quiz_id: QuizId,
    result_id: Option<ResultId>,
    #[serde(with = "bson_time")]
    at: DateTime<Utc>,
}

/// The documents the collections hold: each record in its MongoDB shape.
pub(super) struct UserDoc(pub(super) UserRecord);

impl Serialize for UserDoc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredUser::from(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for UserDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UserRecord::try_from(StoredUser::deserialize(d)?)
            .map(UserDoc)
            .map_err(serde::de::Error::custom)
    }
}
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct SessionDoc(#[serde(with = "SessionDef")] pub(super) SessionRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct QuizDoc(#[serde(with = "QuizDef")] pub(super) QuizRecord);
/// A quiz's place in its owner's list, projected out of its document.
#[derive(Deserialize)]
pub(super) struct QuizKeyDoc {
    #[serde(rename = "_id")]
    id: QuizId,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
}

impl From<QuizKeyDoc> for QuizKey {
    fn from(doc: QuizKeyDoc) -> Self {
        QuizKey {
            id: doc.id,
            created_at: doc.created_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct ResultDoc(#[serde(with = "ResultDef")] pub(super) QuizResultRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct MailDoc(#[serde(with = "MailDef")] pub(super) OutboxRecord);

#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct JobDoc(#[serde(with = "JobDef")] pub(super) GenerationJobRecord);
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct EventDoc(#[serde(with = "EventDef")] pub(super) QuizEventRecord);

/// A user's `sessions` field alone: absent is none, anything but an array of sessions fails.
#[derive(Deserialize)]
pub(super) struct Sessions {
    #[serde(default)]
    sessions: Vec<SessionDoc>,
}

impl Sessions {
    pub(super) fn records(self) -> Vec<SessionRecord> {
        self.sessions.into_iter().map(|SessionDoc(s)| s).collect()
    }
}

pub(super) fn to_bson(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// Times as BSON dates. A stored date that chrono cannot hold fails to decode: bson's own chrono
/// helper would clamp it to the first or last representable instant instead.
pub(super) mod bson_time {
    use chrono::{DateTime, Utc};
    use mongodb::bson;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        super::to_bson(*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        from_bson(bson::DateTime::deserialize(d)?)
    }

    fn from_bson<E: Error>(t: bson::DateTime) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp_millis(t.timestamp_millis())
            .ok_or_else(|| E::custom(format!("date {} ms is out of range", t.timestamp_millis())))
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            t.map(super::super::to_bson).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<bson::DateTime>::deserialize(d)?
                .map(from_bson)
                .transpose()
        }
    }
}

/// Newest-first keyset page: strictly before `after` in (time, _id) order.
pub(super) fn page_filter(
    mut filter: Document,
    time_field: &str,
    after: Option<&PageAfter>,
) -> Document {
    if let Some(a) = after {
        let at = to_bson(a.at);
        filter.insert(
            "$or",
            vec![
                doc! { time_field: { "$lt": at } },
                doc! { time_field: at, "_id": { "$lt": a.id.as_str() } },
            ],
        );
    }
    filter
}

/// A new user: the record, with no sessions yet.
pub(super) fn new_user_document(user: &UserRecord) -> StoreResult<Document> {
    let mut doc = to_document(&UserDoc(user.clone()))?;
    doc.insert("sessions", bson::Array::new());
    Ok(doc)
}

pub(super) fn session_document(session: &SessionRecord) -> StoreResult<Document> {
    to_document(&SessionDoc(session.clone()))
}

pub(super) fn to_document<T: Serialize>(value: &T) -> StoreResult<Document> {
    bson::to_document(value).map_err(|e| StoreError::Other(e.into()))
}

pub(super) fn to_doc<T: Serialize>(value: &T) -> StoreResult<bson::Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Other(e.into()))
}

#[cfg(test)]
mod tests {
    //! What the documents look like on disk: earlier builds wrote exactly these, so a change
    //! here is a change to every stored database.

    use super::*;
    use crate::domain::{QuestionFeedbackRecord, SourcePassageRecord};

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn id<T: TryFrom<String, Error = crate::domain::InvalidId>>(n: u8) -> T {
        T::try_from(format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    fn same(actual: Document, expected: Document) {
        // Display shows the order and the BSON type of every value.
        assert_eq!(actual.to_string(), expected.to_string());
    }

    fn session() -> SessionRecord {
        SessionRecord {
            id: id(2),
            refresh_token: RefreshToken::new("rt".into()),
            created_at: at(1_000),
            expires_at: at(2_000),
            last_refreshed_at: Some(at(1_500)),
            user_agent: None,
            generation: 3,
            refreshes: WindowCount {
                window: 7,
                current: 2,
                previous: 1,
            },
            method: SignInMethod::Mfa,
            authenticated_at: at(1_200),
        }
    }

    fn quiz() -> QuizRecord {
        QuizRecord::sample(id(3), id(1), at(3_000))
    }

    fn result() -> QuizResultRecord {
        QuizResultRecord {
            id: id(4),
            owner: id(1),
            quiz_id: id(3),
            quiz_title: "t".into(),
            language: "en".into(),
            answers: vec![AnswerRecord {
                question_number: 1,
                question: "q".into(),
                selected_choice: Some(1),
                selected_content: Some("True".into()),
                correct_choice: 1,
                correct_content: "True".into(),
                is_correct: true,
                explanation: None,
                source: None,
                grading_note: None,
            }],
            correct_count: 1,
            total_questions: 1,
            score: 100.0,
            submitted_at: at(4_000),
            feedback: Some(FeedbackRecord {
                summary: "s".into(),
                items: vec![QuestionFeedbackRecord {
                    question_number: 1,
                    feedback: "f".into(),
                }],
            }),
        }
    }

    fn mail() -> OutboxRecord {
        OutboxRecord {
            id: id(5),
            to: "a <a@example.com>".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            attempts: 2,
            next_attempt_at: at(5_000),
            created_at: at(4_500),
            last_error: Some("e".into()),
        }
    }

    fn bson_at(ms: i64) -> bson::DateTime {
        bson::DateTime::from_millis(ms)
    }

    #[test]
    fn documents_keep_their_stored_shape() {
        let user = UserRecord {
            id: id(1),
            username: Username::parse("Ada").unwrap(),
            username_norm: "ada".into(),
            credentials: Some(Credentials {
                email: EmailAddress::parse("Ada@example.com").unwrap(),
                email_norm: "ada@example.com".into(),
                password_hash: PasswordHash::new("$argon2id$x".into()),
            }),
            is_active: true,
            created_at: at(500),
            locale: Locale::Ko,
            disabled: false,
        };
        let session_doc = doc! {
            "id": id::<SessionId>(2).as_str(), "refresh_token": "rt", "created_at": bson_at(1_000),
            "expires_at": bson_at(2_000), "last_refreshed_at": bson_at(1_500),
            "user_agent": null, "generation": 3_i64, "sign_in_method": "MFA",
            "refreshes": { "window": 7_i64, "current": 2_i64, "previous": 1_i64 },
            "authenticated_at": bson_at(1_200),
        };
        same(
            new_user_document(&user).unwrap(),
            doc! {
                "_id": id::<UserId>(1).as_str(), "username": "Ada", "username_norm": "ada",
                "email": "Ada@example.com", "email_norm": "ada@example.com",
                "password_hash": "$argon2id$x", "is_active": true, "is_guest": false,
                "created_at": bson_at(500), "locale": "ko", "sessions": [],
            },
        );
        let guest = UserRecord::new_guest(at(600));
        same(
            new_user_document(&guest).unwrap(),
            doc! {
                "_id": guest.id.as_str(), "username": guest.username.as_str(),
                "username_norm": &guest.username_norm, "email_norm": format!("GUEST:{}", guest.id),
                "is_active": true, "is_guest": true, "created_at": bson_at(600), "locale": "en",
                "sessions": [],
            },
        );
        let UserDoc(read) = bson::from_document(new_user_document(&guest).unwrap()).unwrap();
        assert_eq!(read, guest);
        // Users stored before locales read as English.
        let mut older = new_user_document(&user).unwrap();
        older.remove("locale");
        let UserDoc(read) = bson::from_document(older).unwrap();
        assert_eq!(read.locale, Locale::En);
        same(session_document(&session()).unwrap(), session_doc.clone());
        same(
            bson::to_document(&QuizDoc(quiz())).unwrap(),
            doc! {
                "_id": id::<QuizId>(3).as_str(), "owner_id": id::<UserId>(1).as_str(),
                "created_at": bson_at(3_000), "title": "t", "description": "d", "topic": "p",
                "difficulty": "EASY", "source": "OFFLINE", "language": "en",
                "questions": [{
                    "number": 1_i64, "content": "q", "answer_type": "TRUE_FALSE",
                    "choices": [{ "number": 1_i64, "content": "True", "correct": true }],
                    "explanation": null,
                }],
            },
        );
        // A question's passage is written only where there is one, so the quizzes and results
        // above are what earlier builds wrote and read back without one.
        let mut with_passage = quiz();
        with_passage.questions[0].source = Some(SourcePassageRecord {
            excerpt: "q".into(),
            start: 3,
            end: 4,
            page: Some(1),
        });
        let QuizDoc(read) =
            bson::from_document(bson::to_document(&QuizDoc(with_passage.clone())).unwrap())
                .unwrap();
        assert_eq!(read, with_passage);
        same(
            bson::to_document(&ResultDoc(result())).unwrap(),
            doc! {
                "_id": id::<ResultId>(4).as_str(), "owner_id": id::<UserId>(1).as_str(),
                "quiz_id": id::<QuizId>(3).as_str(), "submitted_at": bson_at(4_000),
                "quiz_title": "t", "language": "en",
                "answers": [{
                    "question_number": 1_i64, "question": "q", "selected_choice": 1_i64,
                    "selected_content": "True", "correct_choice": 1_i64,
                    "correct_content": "True", "is_correct": true, "explanation": null,
                }],
                "correct_count": 1_i64, "total_questions": 1_i64, "score": 100.0,
                "feedback": { "summary": "s", "items": [{ "question_number": 1_i64, "feedback": "f" }] },
            },
        );
        same(
            bson::to_document(&MailDoc(mail())).unwrap(),
            doc! {
                "_id": id::<MailId>(5).as_str(), "to": "a <a@example.com>", "subject": "s",
                "text": "t", "html": "h", "attempts": 2_i64, "next_attempt_at": bson_at(5_000),
                "created_at": bson_at(4_500), "last_error": "e",
            },
        );
    }

    #[test]
    fn documents_read_back_as_the_records() {
        let user_doc = doc! {
            "_id": id::<UserId>(1).as_str(), "username": "Ada", "username_norm": "ada",
            "email": "a@example.com", "email_norm": "a@example.com", "password_hash": "h",
            "is_active": false, "created_at": bson_at(500), "sessions": [],
        };
        let UserDoc(user) = bson::from_document(user_doc).unwrap();
        assert_eq!((user.id, user.created_at), (id(1), at(500)));
        let mut old_session = session_document(&session()).unwrap();
        old_session.remove("sign_in_method");
        let SessionDoc(read) = bson::from_document(old_session).unwrap();
        assert_eq!(read.method, SignInMethod::Password);
        let mut old_session = session_document(&session()).unwrap();
        old_session.remove("authenticated_at");
        let SessionDoc(read) = bson::from_document(old_session).unwrap();
        assert_eq!(read.authenticated_at, DateTime::UNIX_EPOCH);
        let s = session_document(&session()).unwrap();
        let SessionDoc(read) = bson::from_document(s).unwrap();
        assert_eq!(read, session());
        let QuizDoc(read) = bson::from_document(to_document(&QuizDoc(quiz())).unwrap()).unwrap();
        assert_eq!(read, quiz());
        let r = to_document(&ResultDoc(result())).unwrap();
        let ResultDoc(read) = bson::from_document(r).unwrap();
        assert_eq!(read, result());
        let mut m = to_document(&MailDoc(mail())).unwrap();
        m.insert("dead_at", bson_at(6_000));
        let MailDoc(read) = bson::from_document(m).unwrap();
        assert_eq!(read, mail());
    }
}
