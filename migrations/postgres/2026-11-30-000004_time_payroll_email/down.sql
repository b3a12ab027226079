DROP TABLE outbound_emails;
DROP TABLE payroll_records;
DROP TABLE payroll_periods;
DROP TABLE time_entries;
DROP TABLE hourly_rates;
ALTER TABLE users DROP COLUMN email_preference;
