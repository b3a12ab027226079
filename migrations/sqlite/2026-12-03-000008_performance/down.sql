DROP TABLE performance_disputes;
DROP TABLE performance_badges;
DROP TABLE performance_milestones;
DROP TABLE performance_snapshots;
DROP TABLE performance_totals;
DROP TABLE performance_logs;
ALTER TABLE users DROP COLUMN gamification;
