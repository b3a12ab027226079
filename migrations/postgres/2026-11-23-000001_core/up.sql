-- Core schema: organisation, accounts and access, tasks and their audit trail.
-- Times are UTC (TIMESTAMP, no zone); money is integer cents.

CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'lead', 'employee')),
    team_id BIGINT REFERENCES teams(id) ON DELETE SET NULL,
    password_hash TEXT NOT NULL,
    capacity_hours_per_week DOUBLE PRECISION NOT NULL DEFAULT 40,
    hourly_rate_cents BIGINT NOT NULL DEFAULT 0,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_team_idx ON users(team_id);

CREATE TABLE skills (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE user_skills (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    skill_id BIGINT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (user_id, skill_id)
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user_idx ON api_tokens(user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions(user_id);

CREATE TABLE login_throttles (
    account TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    team_id BIGINT REFERENCES teams(id) ON DELETE SET NULL,
    manager_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    project_id BIGINT REFERENCES projects(id) ON DELETE SET NULL,
    priority TEXT NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'ON_HOLD', 'DONE', 'CANCELLED')),
    progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    difficulty INTEGER NOT NULL DEFAULT 5 CHECK (difficulty BETWEEN 1 AND 10),
    estimated_hours DOUBLE PRECISION NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    completed_at TIMESTAMP,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    last_progress_update_at TIMESTAMP,
    last_progress_updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX tasks_status_idx ON tasks(status);
CREATE INDEX tasks_project_idx ON tasks(project_id);
CREATE INDEX tasks_due_idx ON tasks(due_at);

CREATE TABLE task_skills (
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    skill_id BIGINT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    min_level INTEGER NOT NULL CHECK (min_level BETWEEN 1 AND 5),
    PRIMARY KEY (task_id, skill_id)
);

CREATE TABLE assignments (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('assigned', 'in_progress', 'completed', 'on_hold')),
    source TEXT NOT NULL CHECK (source IN ('manual', 'auto', 'round_robin', 'rebalance')),
    estimated_hours DOUBLE PRECISION NOT NULL DEFAULT 0,
    actual_hours DOUBLE PRECISION NOT NULL DEFAULT 0,
    skill_match DOUBLE PRECISION,
    assigned_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    assigned_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    UNIQUE (task_id, user_id)
);
CREATE INDEX assignments_user_idx ON assignments(user_id);

-- The audit trail of task changes. Append-only: the triggers below refuse
-- UPDATE and DELETE, so no code path can rewrite history. Tasks are never
-- deleted (they are cancelled), hence ON DELETE RESTRICT.
CREATE TABLE task_progress (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE RESTRICT,
    user_id BIGINT REFERENCES users(id) ON DELETE RESTRICT,
    previous_progress INTEGER NOT NULL,
    new_progress INTEGER NOT NULL,
    previous_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    occupancy_status TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX task_progress_task_idx ON task_progress(task_id, id);
CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER task_progress_append_only BEFORE UPDATE OR DELETE ON task_progress
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    task_id BIGINT REFERENCES tasks(id) ON DELETE SET NULL,
    read_at TIMESTAMP,
    emailed_at TIMESTAMP,
    archived_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_user_idx ON notifications(user_id, read_at);

-- Who did what to which resource, with the outcome (success | denied | failure)
-- and the request id that ties it to the logs. Append-only like task_progress.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor_id BIGINT REFERENCES users(id),
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    request_id TEXT,
    ip TEXT,
    details TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_created_idx ON audit_log(created_at);
CREATE INDEX audit_log_actor_idx ON audit_log(actor_id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
