-- The refresh limit's count lives on the session, so a refresh writes one row, not two.
ALTER TABLE sessions ADD COLUMN refresh_window INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refreshes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refreshes_before INTEGER NOT NULL DEFAULT 0;
