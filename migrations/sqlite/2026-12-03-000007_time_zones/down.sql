DROP TABLE org_settings;
ALTER TABLE users DROP COLUMN time_zone;
