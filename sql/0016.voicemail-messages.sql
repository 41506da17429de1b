-- depends: 0015.webhook-crm-lookups
-- R11-R13: what a voicemail box plays and how long it records, and the
-- messages the media app takes.

ALTER TABLE voicemail_boxes
    -- R12: the box's own greeting; NULL plays the standard one.
    ADD COLUMN greeting_prompt_id BIGINT REFERENCES prompts (id),
    -- A message ends at this length, or after this long a silence.
    ADD COLUMN max_length_s INTEGER NOT NULL DEFAULT 180 CHECK (max_length_s BETWEEN 10 AND 600),
    ADD COLUMN silence_s INTEGER NOT NULL DEFAULT 5 CHECK (silence_s BETWEEN 2 AND 60);

CREATE TABLE voicemail_messages (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    -- A deleted box keeps its messages until they are deleted themselves.
    voicemail_box_id BIGINT REFERENCES voicemail_boxes (id) ON DELETE SET NULL,
    box_name TEXT NOT NULL,
    call_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    called TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms > 0),
    -- The WAV (8 kHz, mono, 16-bit), relative to the media data directory.
    file_name TEXT NOT NULL UNIQUE,
    -- Who was told, and why the rest were not (NULL: every email went out).
    emailed_to TEXT[] NOT NULL DEFAULT '{}',
    email_error TEXT
);
CREATE INDEX voicemail_messages_company ON voicemail_messages (company_id, received_at DESC);

ALTER TABLE calls ADD COLUMN voicemail_message_id BIGINT REFERENCES voicemail_messages (id) ON DELETE SET NULL;
