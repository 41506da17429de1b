DROP TABLE crm_clients;
DROP TABLE crm_integrations;
ALTER TABLE webhooks DROP COLUMN breaker_open_s, DROP COLUMN breaker_failures, DROP COLUMN cache_ttl_s,
    DROP COLUMN retries;
