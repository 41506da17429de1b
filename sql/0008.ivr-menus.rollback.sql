ALTER TABLE step_destinations DROP CONSTRAINT step_destinations_ivr, DROP COLUMN ivr_menu_id;
DROP TABLE ivr_keys;
DROP TABLE ivr_menus;
