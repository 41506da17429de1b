DROP TABLE employee_absences;
ALTER TABLE employees
    DROP COLUMN no_answer_voicemail_box_id, DROP COLUMN no_answer_department_id, DROP COLUMN no_answer_employee_id,
    DROP COLUMN no_answer_after_s, DROP COLUMN no_answer_rule, DROP COLUMN schedule_id;
