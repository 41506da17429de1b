-- depends: 0004.api-tokens
-- Destinations reaching outside the company: a phone number (through the
-- outbound trunk) and an external SIP URI.

ALTER TABLE step_destinations
    ADD COLUMN phone_number TEXT CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    ADD COLUMN sip_uri TEXT CHECK (sip_uri ~ '^sips?:[^@[:space:]]+@[^@[:space:]]+$'),
    ADD CONSTRAINT step_destinations_kind_fields CHECK (
        (kind <> 'phone_number' OR phone_number IS NOT NULL)
        AND (kind <> 'sip_uri' OR sip_uri IS NOT NULL)
    );
