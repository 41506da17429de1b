ALTER TABLE crm_integrations DROP COLUMN events_url;
ALTER TABLE calls DROP COLUMN categorized_at, DROP COLUMN category_key, DROP COLUMN category;
ALTER TABLE schemes DROP CONSTRAINT schemes_category_menu, DROP COLUMN category_menu_id;
DROP TABLE category_menus;
