-- depends: 0002.companies-employees-trunks
-- Company numbers and their forwarding schemes: an ordered chain of steps,
-- each ringing its destinations in parallel or one after another.

CREATE TABLE schemes (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    UNIQUE (company_id, name),
    UNIQUE (id, company_id)
);

CREATE TABLE scheme_steps (
    id BIGSERIAL PRIMARY KEY,
    scheme_id BIGINT NOT NULL REFERENCES schemes (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    mode TEXT NOT NULL CHECK (mode IN ('parallel', 'sequential')),
    -- R7: 15 s is the minimum (meant for voicemail); people want more than 30.
    timeout_s INTEGER NOT NULL CHECK (timeout_s BETWEEN 15 AND 600),
    UNIQUE (scheme_id, position)
);

-- A tagged union: `kind` names the destination module; each kind uses its own column(s).
CREATE TABLE step_destinations (
    id BIGSERIAL PRIMARY KEY,
    step_id BIGINT NOT NULL REFERENCES scheme_steps (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    kind TEXT NOT NULL,
    employee_id BIGINT REFERENCES employees (id) ON DELETE CASCADE,
    CHECK (kind <> 'employee' OR employee_id IS NOT NULL),
    UNIQUE (step_id, position)
);

CREATE TABLE numbers (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    e164 TEXT NOT NULL UNIQUE CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    scheme_id BIGINT,
    FOREIGN KEY (scheme_id, company_id) REFERENCES schemes (id, company_id)
);
