-- depends: 0037.queue-announcement
-- Counters and histograms of calls for /metrics, kept by the history keeper in
-- the transaction that writes the history they count (vpbx/history/totals.py).
-- bucket: '' a counter's value; 'sum' a histogram's sum; else the upper bound
-- of one histogram bucket, its own count (not cumulated).
CREATE TABLE metric_totals (
    family TEXT NOT NULL,
    labels JSONB NOT NULL,
    bucket TEXT NOT NULL DEFAULT '',
    value DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (family, labels, bucket)
);
