ALTER TABLE step_destinations
    DROP CONSTRAINT step_destinations_kind_fields,
    DROP COLUMN sip_uri,
    DROP COLUMN phone_number;
