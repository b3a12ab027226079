-- Browsers that signed in to an account before (device cookies): only the
-- SHA-256 digest of each cookie's random token is kept.
CREATE TABLE login_devices (
    token_digest TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL
);
