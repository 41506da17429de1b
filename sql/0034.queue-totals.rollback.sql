DROP TABLE queue_totals;
