-- depends: 0008.ivr-menus
-- When an employee can be rung (R3) and what a direct call does when they do
-- not answer (R15).

ALTER TABLE employees
    ADD COLUMN schedule_id BIGINT,
    ADD FOREIGN KEY (schedule_id, company_id) REFERENCES schedules (id, company_id),
    ADD COLUMN no_answer_rule TEXT NOT NULL DEFAULT 'busy'
        CHECK (no_answer_rule IN ('busy', 'drop_busy', 'drop_message', 'forward_employee',
                                  'forward_department', 'voicemail')),
    ADD COLUMN no_answer_after_s INTEGER NOT NULL DEFAULT 120 CHECK (no_answer_after_s BETWEEN 5 AND 600),
    ADD COLUMN no_answer_employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    ADD COLUMN no_answer_department_id BIGINT REFERENCES departments (id) ON DELETE SET NULL,
    ADD COLUMN no_answer_voicemail_box_id BIGINT REFERENCES voicemail_boxes (id) ON DELETE SET NULL;

CREATE TABLE employee_absences (
    id BIGSERIAL PRIMARY KEY,
    employee_id BIGINT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('vacation', 'sick_leave')),
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    CHECK (start_date <= end_date)
);
CREATE INDEX employee_absences_employee_idx ON employee_absences (employee_id, end_date);
