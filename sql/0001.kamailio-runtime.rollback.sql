DROP TABLE location_attrs;
DROP TABLE location;
DROP TABLE version;
