ALTER TABLE queue_members DROP COLUMN penalty, DROP COLUMN position;
UPDATE queues SET strategy = 'round_robin' WHERE strategy IN ('in_order', 'fewest_calls', 'random');
ALTER TABLE queues DROP CONSTRAINT queues_strategy_check;
ALTER TABLE queues ADD CONSTRAINT queues_strategy_check
    CHECK (strategy IN ('ring_all', 'round_robin', 'longest_idle'));
