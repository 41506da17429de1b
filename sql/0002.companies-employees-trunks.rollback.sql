DELETE FROM version WHERE table_name IN ('kamailio_subscriber', 'kamailio_address');
DROP VIEW kamailio_address;
DROP TABLE trunks;
DROP VIEW kamailio_subscriber;
DROP TABLE employees;
DROP TABLE companies;
