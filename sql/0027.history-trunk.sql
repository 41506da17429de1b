-- depends: 0026.operator-tokens
-- Which trunk a call to a phone number left through: per leg (the last
-- gateway tried), and per line (the answered leg's, else the last one's).
-- Names, not ids: history outlives a trunk removed since.
ALTER TABLE call_legs ADD COLUMN trunk TEXT;
ALTER TABLE calls ADD COLUMN trunk TEXT;
