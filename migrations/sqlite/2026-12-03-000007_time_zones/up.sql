-- Each person may read times in their own zone (NULL: the organisation's).
ALTER TABLE users ADD COLUMN time_zone TEXT;
-- Organisation-wide settings an admin changes (the default time zone, …),
-- one row per key.
CREATE TABLE org_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
