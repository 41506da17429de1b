-- depends: 0033.queue-statistics
-- Running totals per queue and outcome, kept by the history keeper as it
-- writes queue_calls, so that /metrics serves counters without counting the
-- whole history at every scrape.
CREATE TABLE queue_totals (
    queue_id BIGINT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    outcome TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    wait_s DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, outcome)
);
INSERT INTO queue_totals (queue_id, outcome, calls, wait_s)
SELECT queue_id, outcome, count(*), sum(wait_s) FROM queue_calls GROUP BY queue_id, outcome;
