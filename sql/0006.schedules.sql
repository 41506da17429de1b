-- depends: 0005.destination-kinds
-- Schedules (R1, R6, R9): weekly open intervals and dated exceptions, read in
-- the schedule's own timezone (the company's when it has none).

CREATE TABLE schedules (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    timezone TEXT,
    UNIQUE (company_id, name),
    UNIQUE (id, company_id)
);

-- Minutes since local midnight: 0..1440, so "until midnight" is 1440.
CREATE TABLE schedule_intervals (
    id BIGSERIAL PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    weekday SMALLINT NOT NULL CHECK (weekday BETWEEN 0 AND 6),  -- 0 is Monday
    start_minute SMALLINT NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute SMALLINT NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    CHECK (start_minute < end_minute)
);

-- A holiday (closed) or an extra working day (open during the given hours).
CREATE TABLE schedule_exceptions (
    id BIGSERIAL PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    closed BOOLEAN NOT NULL,
    start_minute SMALLINT CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute SMALLINT CHECK (end_minute BETWEEN 1 AND 1440),
    CHECK (start_date <= end_date),
    CHECK (closed OR (start_minute IS NOT NULL AND end_minute IS NOT NULL AND start_minute < end_minute))
);

ALTER TABLE companies ADD COLUMN schedule_id BIGINT;
ALTER TABLE companies ADD FOREIGN KEY (schedule_id, id) REFERENCES schedules (id, company_id);

-- A number rings its scheme always, or by schedule: the working scheme while
-- the schedule is open, the off-hours scheme otherwise (R6).
ALTER TABLE numbers
    ADD COLUMN mode TEXT NOT NULL DEFAULT 'always' CHECK (mode IN ('always', 'by_schedule')),
    ADD COLUMN schedule_id BIGINT,
    ADD COLUMN off_hours_scheme_id BIGINT,
    ADD FOREIGN KEY (schedule_id, company_id) REFERENCES schedules (id, company_id),
    ADD FOREIGN KEY (off_hours_scheme_id, company_id) REFERENCES schemes (id, company_id);

-- A scheme may apply only while a schedule is open; otherwise its backup scheme does (R9).
ALTER TABLE schemes
    ADD COLUMN active_schedule_id BIGINT,
    ADD COLUMN backup_scheme_id BIGINT,
    ADD FOREIGN KEY (active_schedule_id, company_id) REFERENCES schedules (id, company_id),
    ADD FOREIGN KEY (backup_scheme_id, company_id) REFERENCES schemes (id, company_id),
    ADD CHECK (backup_scheme_id IS DISTINCT FROM id);
