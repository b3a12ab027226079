-- Gamification is opt-in: off, a person is scored but left out of public
-- leaderboards and gets no badge notifications.
ALTER TABLE users ADD COLUMN gamification BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per completed assignment: the completion's own inputs and every
-- component of both presets (seed 002 "delivery", seed 000 "balanced") as
-- they stood after it. Written once per assignment by update-performance.
CREATE TABLE performance_logs (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    assignment_id BIGINT NOT NULL UNIQUE REFERENCES assignments(id) ON DELETE CASCADE,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    completed_at TIMESTAMP NOT NULL,
    on_time BOOLEAN NOT NULL,
    task_skill_match DOUBLE PRECISION NOT NULL,
    difficulty INTEGER NOT NULL,
    hours_taken DOUBLE PRECISION NOT NULL,
    days_early DOUBLE PRECISION,
    task_estimation_accuracy DOUBLE PRECISION,
    tasks_completed INTEGER NOT NULL,
    on_time_ratio DOUBLE PRECISION NOT NULL,
    skill_accuracy DOUBLE PRECISION NOT NULL,
    difficulty_factor DOUBLE PRECISION NOT NULL,
    avg_completion_time DOUBLE PRECISION NOT NULL,
    avg_completion_speed DOUBLE PRECISION NOT NULL,
    experience_level INTEGER NOT NULL,
    performance_score DOUBLE PRECISION NOT NULL,
    score_change DOUBLE PRECISION NOT NULL,
    completion_rate DOUBLE PRECISION NOT NULL,
    estimation_accuracy DOUBLE PRECISION NOT NULL,
    workload_balance DOUBLE PRECISION NOT NULL,
    skill_utilization DOUBLE PRECISION NOT NULL,
    balanced_score DOUBLE PRECISION NOT NULL,
    balanced_change DOUBLE PRECISION NOT NULL,
    excluded BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX performance_logs_user_idx ON performance_logs(user_id, completed_at);
CREATE INDEX performance_logs_created_idx ON performance_logs(created_at);

-- Running sums per person over the counted logs, so a completion costs O(1).
CREATE TABLE performance_totals (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    completed INTEGER NOT NULL,
    on_time INTEGER NOT NULL,
    skill_sum DOUBLE PRECISION NOT NULL,
    difficulty_sum DOUBLE PRECISION NOT NULL,
    hours_sum DOUBLE PRECISION NOT NULL,
    early_days_sum DOUBLE PRECISION NOT NULL,
    due_count INTEGER NOT NULL,
    accuracy_sum DOUBLE PRECISION NOT NULL,
    accuracy_count INTEGER NOT NULL,
    on_time_streak INTEGER NOT NULL,
    hard_completed INTEGER NOT NULL,
    performance_score DOUBLE PRECISION NOT NULL,
    balanced_score DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Per person per day (in the organisation's zone), the seed's fields.
CREATE TABLE performance_snapshots (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    snapshot_date DATE NOT NULL,
    tasks_completed_today INTEGER NOT NULL,
    cumulative_tasks INTEGER NOT NULL,
    daily_on_time_ratio DOUBLE PRECISION NOT NULL,
    cumulative_on_time_ratio DOUBLE PRECISION NOT NULL,
    daily_performance_score DOUBLE PRECISION NOT NULL,
    cumulative_performance_score DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, snapshot_date)
);

-- Milestones reached (kept once reached) and badges earned (active while
-- their criterion holds); the catalogue lives in the code.
CREATE TABLE performance_milestones (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    milestone_type TEXT NOT NULL,
    milestone_name TEXT NOT NULL,
    description TEXT NOT NULL,
    achieved_value DOUBLE PRECISION NOT NULL,
    achievement_data TEXT NOT NULL,
    achieved_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, milestone_type)
);

CREATE TABLE performance_badges (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    badge_name TEXT NOT NULL,
    badge_description TEXT NOT NULL,
    badge_icon TEXT NOT NULL,
    criteria TEXT NOT NULL,
    criteria_value DOUBLE PRECISION NOT NULL,
    is_active BOOLEAN NOT NULL,
    earned_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, badge_name)
);

-- A person disputes one data point of a log (on time, or skill match); a
-- lead or manager accepts (the log is excluded and the score recomputed)
-- or rejects it.
CREATE TABLE performance_disputes (
    id BIGSERIAL PRIMARY KEY,
    log_id BIGINT NOT NULL REFERENCES performance_logs(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    field TEXT NOT NULL CHECK (field IN ('on_time', 'skill_match')),
    note TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    decided_by BIGINT REFERENCES users(id),
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX performance_disputes_user_idx ON performance_disputes(user_id, status);
