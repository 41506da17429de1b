ALTER TABLE companies DROP COLUMN language;
