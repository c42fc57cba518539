-- Inventory sets are written in a binary form (patchwarden_store::inventory_sets::encode_ids:
-- a tag byte and LEB128 deltas, about a fifth of the text). The sets written before stay as
-- they were, their text now stored as bytes; the reader tells the two forms apart by the
-- first byte.
ALTER TABLE inventory_sets ALTER COLUMN package_ids TYPE BYTEA USING convert_to(package_ids, 'UTF8');
