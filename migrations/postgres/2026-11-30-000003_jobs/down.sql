DROP TABLE schedule_slots;
DROP TABLE schedules;
DROP TABLE jobs;
