-- The learning loop: one card per user and question answered (a snapshot of the question and
-- its FSRS state, as JSON), the log of its reviews, and each user's desired retention. Only new
-- tables, each made if missing, so a database whose recorded version was wound back can run it
-- again.
CREATE TABLE IF NOT EXISTS review_cards (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    quiz_id         TEXT NOT NULL,
    question_number INTEGER NOT NULL,
    due             INTEGER NOT NULL,
    body            TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS review_cards_by_question ON review_cards(owner_id, quiz_id, question_number);
CREATE INDEX IF NOT EXISTS review_cards_by_owner_due ON review_cards(owner_id, due, id);
CREATE TABLE IF NOT EXISTS review_logs (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    reviewed_at INTEGER NOT NULL,
    day         INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_logs_by_owner ON review_logs(owner_id, reviewed_at);
CREATE INDEX IF NOT EXISTS review_logs_by_owner_day ON review_logs(owner_id, day);
CREATE TABLE IF NOT EXISTS review_settings (
    owner_id          TEXT PRIMARY KEY,
    desired_retention REAL NOT NULL
) WITHOUT ROWID;
