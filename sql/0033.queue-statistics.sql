-- depends: 0032.queue-strategies
-- Each caller's time in a call queue (R18), written by the history keeper from
-- the media app's events: how long they waited, how it ended, who answered and
-- for how long they talked. Statistics per queue and period are read from it;
-- history shows a queue call's wait and agent beside its line.
ALTER TABLE queues
    ADD COLUMN service_level_s INTEGER NOT NULL DEFAULT 20 CHECK (service_level_s BETWEEN 5 AND 600);
CREATE TABLE queue_calls (
    id BIGSERIAL PRIMARY KEY,
    queue_id BIGINT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,  -- the caller's SIP Call-ID, as on their history line
    joined_at TIMESTAMPTZ NOT NULL,
    left_at TIMESTAMPTZ NOT NULL,
    -- answered; abandoned (hung up while waiting); timeout (the longest wait);
    -- full; no_agents (the queue takes no one then); voicemail (the caller chose it)
    outcome TEXT NOT NULL
        CHECK (outcome IN ('answered', 'abandoned', 'timeout', 'full', 'no_agents', 'voicemail')),
    wait_s DOUBLE PRECISION NOT NULL CHECK (wait_s >= 0),
    employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    talk_s DOUBLE PRECISION CHECK (talk_s >= 0),  -- answered calls, once they ended
    UNIQUE (queue_id, call_id, joined_at)
);
CREATE INDEX queue_calls_queue_joined ON queue_calls (queue_id, joined_at);
CREATE INDEX queue_calls_call ON queue_calls (call_id);
