-- depends: 0023.trunk-registration
-- What employees set from their own phones with feature codes (README:
-- "Feature codes"), and the voicemail they listen to by phone.

ALTER TABLE employees
    -- Do not disturb: calls skip the employee as they skip one off duty.
    ADD COLUMN dnd BOOLEAN NOT NULL DEFAULT false,
    -- Forward all calls: the E.164 number a call to the employee rings instead of their phones.
    ADD COLUMN forward_all TEXT CHECK (forward_all ~ '^\+[1-9][0-9]{6,14}$');

-- A message is new until someone listens to it to the end by phone; a saved one stays heard.
ALTER TABLE voicemail_messages ADD COLUMN heard_at TIMESTAMPTZ;
