CREATE TABLE quizzes (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX quizzes_by_owner ON quizzes(owner_id, created_at DESC, id DESC);
CREATE TABLE quiz_results (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    quiz_id      TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX results_by_owner ON quiz_results(owner_id, submitted_at DESC, id DESC);
CREATE INDEX results_by_owner_quiz ON quiz_results(owner_id, quiz_id, submitted_at DESC, id DESC);
