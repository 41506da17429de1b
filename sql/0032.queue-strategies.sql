-- depends: 0031.queue-pause-after-misses
-- More ways to pick the next agent (R18): in the order the queue lists its
-- agents, the one who took the fewest calls today, or at random; and a
-- penalty per agent: an agent is rung only while every agent with a lower
-- penalty is busy, away or paused (Asterisk's penalty, mod_callcenter's tier).
ALTER TABLE queues DROP CONSTRAINT queues_strategy_check;
ALTER TABLE queues ADD CONSTRAINT queues_strategy_check
    CHECK (strategy IN ('ring_all', 'in_order', 'round_robin', 'longest_idle', 'fewest_calls', 'random'));
ALTER TABLE queue_members
    ADD COLUMN position INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN penalty INTEGER NOT NULL DEFAULT 0 CHECK (penalty BETWEEN 0 AND 9);
-- Members listed before positions existed keep the order the API showed them in.
UPDATE queue_members m SET position = n.position
  FROM (SELECT queue_id, employee_id, row_number() OVER (PARTITION BY queue_id ORDER BY employee_id) AS position
          FROM queue_members) n
 WHERE n.queue_id = m.queue_id AND n.employee_id = m.employee_id;
