ALTER TABLE schemes DROP COLUMN backup_scheme_id, DROP COLUMN active_schedule_id;
ALTER TABLE numbers DROP COLUMN off_hours_scheme_id, DROP COLUMN schedule_id, DROP COLUMN mode;
ALTER TABLE companies DROP COLUMN schedule_id;
DROP TABLE schedule_exceptions;
DROP TABLE schedule_intervals;
DROP TABLE schedules;
