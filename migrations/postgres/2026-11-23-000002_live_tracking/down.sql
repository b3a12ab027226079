DROP INDEX assignments_task_idx;
DROP TABLE presence_events;
DROP TABLE idempotency_keys;
