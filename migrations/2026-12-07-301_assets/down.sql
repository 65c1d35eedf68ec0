DROP VIEW IF EXISTS reporting.asset_transfers;
DROP VIEW IF EXISTS reporting.assets;
DELETE FROM reporting.labels WHERE domain IN ('asset_category', 'asset_status', 'asset_condition', 'disposal_reason');
DROP TABLE IF EXISTS asset_count_items;
DROP TABLE IF EXISTS asset_counts;
DROP TABLE IF EXISTS asset_transfers;
DROP FUNCTION IF EXISTS asset_transfers_append_only();
DROP TABLE IF EXISTS assets;
DROP TABLE IF EXISTS asset_categories;
