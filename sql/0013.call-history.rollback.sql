DROP TABLE call_legs;
DROP TABLE calls;
