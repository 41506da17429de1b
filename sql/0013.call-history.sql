-- depends: 0012.outbound-trunks
-- Call history (R19): one row per call, one per leg that rang. Written by the
-- history keeper from the events Kamailio emits; never on the SIP path.

CREATE TABLE calls (
    id BIGSERIAL PRIMARY KEY,
    call_id TEXT NOT NULL,  -- SIP Call-ID of the caller's leg
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('incoming', 'internal')),
    caller TEXT NOT NULL,
    caller_employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    called TEXT NOT NULL,  -- the company number (E.164) or the extension dialled
    started_at TIMESTAMPTZ NOT NULL,
    answered_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    status TEXT NOT NULL CHECK (status IN ('answered', 'missed')),
    -- Whom the line is about (R19): who answered, or whom a direct call was missed by.
    employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    employee_label TEXT,
    forwarded BOOLEAN NOT NULL DEFAULT false,
    voicemail BOOLEAN NOT NULL DEFAULT false,
    end_reason TEXT,  -- missed: caller_cancelled, no_answer, busy, nobody_to_ring, rejected
    -- Call-IDs are unique only in practice: a device that reuses one later still
    -- gets its own line, while the events of one call (same start) make one.
    UNIQUE (call_id, started_at)
);
CREATE INDEX calls_company_started ON calls (company_id, started_at DESC);
CREATE INDEX calls_employee ON calls (employee_id);
CREATE INDEX calls_caller_employee ON calls (caller_employee_id);

CREATE TABLE call_legs (
    id BIGSERIAL PRIMARY KEY,
    call_id BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    target TEXT NOT NULL,
    employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    department_id BIGINT REFERENCES departments (id) ON DELETE SET NULL,
    rang_at TIMESTAMPTZ NOT NULL,
    answered BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (call_id, step, target)
);
