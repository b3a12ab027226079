-- Idempotency keys: the first answer to a keyed request, replayed for the
-- same key and body; the same key with another body is refused.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys(created_at);

-- Presence transitions (ACTIVE / IDLE / OFFLINE), for occupancy analytics.
CREATE TABLE presence_events (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'IDLE', 'OFFLINE')),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX presence_events_user_idx ON presence_events(user_id, created_at);

CREATE INDEX assignments_task_idx ON assignments(task_id);
