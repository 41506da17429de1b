-- depends: 0006.schedules
-- Departments (R4) and voicemail boxes (R11), and destinations that name them.

CREATE TABLE departments (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    distribution TEXT NOT NULL DEFAULT 'all_at_once'
        CHECK (distribution IN ('all_at_once', 'in_order', 'round_robin', 'random', 'longest_idle')),
    -- How long each member rings when members ring one after another.
    ring_time_s INTEGER NOT NULL DEFAULT 20 CHECK (ring_time_s BETWEEN 5 AND 300),
    if_nobody_answers TEXT NOT NULL DEFAULT 'next_step'
        CHECK (if_nobody_answers IN ('next_step', 'voicemail', 'call_back_later')),
    voicemail_box_id BIGINT,
    UNIQUE (company_id, name),
    UNIQUE (id, company_id)
);

CREATE TABLE department_members (
    department_id BIGINT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    employee_id BIGINT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (department_id, employee_id),
    UNIQUE (department_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE voicemail_boxes (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    -- Whose box it is: the company's, an IVR level's, a department's or an employee's.
    owner_kind TEXT NOT NULL DEFAULT 'company' CHECK (owner_kind IN ('company', 'ivr', 'department', 'employee')),
    owner_department_id BIGINT REFERENCES departments (id) ON DELETE CASCADE,
    owner_employee_id BIGINT REFERENCES employees (id) ON DELETE CASCADE,
    extra_email TEXT,
    UNIQUE (company_id, name),
    UNIQUE (id, company_id),
    CHECK (owner_kind <> 'department' OR owner_department_id IS NOT NULL),
    CHECK (owner_kind <> 'employee' OR owner_employee_id IS NOT NULL)
);

ALTER TABLE departments ADD FOREIGN KEY (voicemail_box_id, company_id) REFERENCES voicemail_boxes (id, company_id);

-- Who is told of a new message: employees, or departments (each member with an email).
CREATE TABLE voicemail_recipients (
    id BIGSERIAL PRIMARY KEY,
    voicemail_box_id BIGINT NOT NULL REFERENCES voicemail_boxes (id) ON DELETE CASCADE,
    employee_id BIGINT REFERENCES employees (id) ON DELETE CASCADE,
    department_id BIGINT REFERENCES departments (id) ON DELETE CASCADE,
    CHECK ((employee_id IS NULL) <> (department_id IS NULL))
);

ALTER TABLE step_destinations
    ADD COLUMN department_id BIGINT REFERENCES departments (id) ON DELETE CASCADE,
    ADD COLUMN voicemail_box_id BIGINT REFERENCES voicemail_boxes (id) ON DELETE CASCADE,
    ADD CONSTRAINT step_destinations_department CHECK (kind <> 'department' OR department_id IS NOT NULL),
    ADD CONSTRAINT step_destinations_voicemail CHECK (kind <> 'voicemail' OR voicemail_box_id IS NOT NULL);
