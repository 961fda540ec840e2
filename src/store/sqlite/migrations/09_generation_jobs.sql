-- Live quiz generation: jobs run by leased workers, and quiz activity events for subscribers.
CREATE TABLE IF NOT EXISTS generation_jobs (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    input           TEXT NOT NULL,
    progress        REAL NOT NULL,
    questions_ready INTEGER NOT NULL,
    quiz_id         TEXT,
    error_code      TEXT,
    error_message   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    attempts        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_claimable ON generation_jobs(status, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON generation_jobs(owner_id, status);
CREATE INDEX IF NOT EXISTS jobs_by_change ON generation_jobs(updated_at);
CREATE TABLE IF NOT EXISTS quiz_events (
    id        TEXT PRIMARY KEY,
    owner_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    quiz_id   TEXT NOT NULL,
    result_id TEXT,
    at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON quiz_events(at);
