-- How a user wants notifications by email: each at once, an hourly digest
-- of the unread ones, or none.
ALTER TABLE users ADD COLUMN email_preference TEXT NOT NULL DEFAULT 'digest'
    CHECK (email_preference IN ('immediate', 'digest', 'off'));

-- Hourly rate history: the rate in force on a day is the row with the latest
-- effective_from on or before it (users.hourly_rate_cents is today's).
CREATE TABLE hourly_rates (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    effective_from DATE NOT NULL,
    rate_cents BIGINT NOT NULL CHECK (rate_cents >= 0),
    PRIMARY KEY (user_id, effective_from)
);

-- Hours worked on a task, in whole minutes.
CREATE TABLE time_entries (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    work_date DATE NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes > 0 AND minutes <= 1440),
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX time_entries_user_date_idx ON time_entries(user_id, work_date);
CREATE INDEX time_entries_task_user_idx ON time_entries(task_id, user_id);
CREATE INDEX time_entries_date_idx ON time_entries(work_date);

-- A pay period (a Monday-Sunday week): pending until an admin approves it,
-- then paid. Its records are frozen once approved.
CREATE TABLE payroll_periods (
    id BIGSERIAL PRIMARY KEY,
    starts_on DATE NOT NULL UNIQUE,
    ends_on DATE NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'paid')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    approved_by BIGINT REFERENCES users(id),
    approved_at TIMESTAMP,
    paid_by BIGINT REFERENCES users(id),
    paid_at TIMESTAMP,
    CHECK (ends_on >= starts_on)
);

-- One line per employee and rate in force during the period.
CREATE TABLE payroll_records (
    id BIGSERIAL PRIMARY KEY,
    period_id BIGINT NOT NULL REFERENCES payroll_periods(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    rate_cents BIGINT NOT NULL CHECK (rate_cents >= 0),
    minutes BIGINT NOT NULL CHECK (minutes >= 0),
    pay_cents BIGINT NOT NULL CHECK (pay_cents >= 0),
    UNIQUE (period_id, user_id, rate_cents)
);

-- The email outbox: a message is written in the transaction that decides to
-- send it, and delivered (and marked sent) by a job afterwards.
CREATE TABLE outbound_emails (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    unique_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbound_emails_unsent_idx ON outbound_emails(sent_at, id);
