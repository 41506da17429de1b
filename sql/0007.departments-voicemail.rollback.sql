ALTER TABLE step_destinations
    DROP CONSTRAINT step_destinations_voicemail, DROP CONSTRAINT step_destinations_department,
    DROP COLUMN voicemail_box_id, DROP COLUMN department_id;
DROP TABLE voicemail_recipients;
ALTER TABLE departments DROP COLUMN voicemail_box_id;
DROP TABLE voicemail_boxes;
DROP TABLE department_members;
DROP TABLE departments;
