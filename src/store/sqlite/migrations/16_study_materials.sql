-- Uploaded study material: the extracted text (never the file) with the file's SHA-256, and the
-- character offsets where pages begin (a JSON array). IF NOT EXISTS: a database wound back to
-- an earlier version runs this again.
CREATE TABLE IF NOT EXISTS study_materials (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    title       TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    page_count  INTEGER,
    char_count  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL,
    page_starts TEXT NOT NULL,
    sha256      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS study_materials_by_owner
    ON study_materials(owner_id, created_at DESC, id DESC);
