-- Durable background jobs: a job is a row, inserted in the same transaction
-- as the change that caused it. States: pending, running, retrying (failed,
-- will run again at run_at), succeeded, dead (out of attempts).
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'retrying', 'succeeded', 'dead')),
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    result TEXT,
    last_error TEXT,
    unique_key TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX jobs_due_idx ON jobs(state, run_at);
CREATE INDEX jobs_finished_idx ON jobs(finished_at);
-- While a job with a unique key is waiting or running, no second one.
CREATE UNIQUE INDEX jobs_unique_active_idx ON jobs(unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'running', 'retrying');

-- Cron schedules (time zone aware) and the slots they have enqueued: the
-- (schedule, slot) key makes each slot run once, across instances.
CREATE TABLE schedules (
    name TEXT PRIMARY KEY NOT NULL,
    job_kind TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    catch_up TEXT NOT NULL CHECK (catch_up IN ('once', 'skip')),
    last_slot TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE schedule_slots (
    schedule_name TEXT NOT NULL REFERENCES schedules(name) ON DELETE CASCADE,
    slot TIMESTAMP NOT NULL,
    job_id BIGINT REFERENCES jobs(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (schedule_name, slot)
);
