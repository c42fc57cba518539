-- Patchwarden SQLite schema, version 8. Forward-only: never edit after it lands.
-- Inventory sets are written in a binary form (patchwarden_store::inventory_sets::encode_ids:
-- a tag byte and LEB128 deltas, about a fifth of the text). The column becomes a BLOB; the
-- sets written before keep their text as bytes, and the reader tells the two forms apart by
-- the first byte. (SQLite cannot change a column's type in place: the table is rebuilt.)
CREATE TABLE inventory_sets_v8 (
    hash          TEXT    PRIMARY KEY,
    format        TEXT    NOT NULL,
    package_count INTEGER NOT NULL,
    package_ids   BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
);
INSERT INTO inventory_sets_v8 (hash, format, package_count, package_ids, created_at)
SELECT hash, format, package_count, CAST(package_ids AS BLOB), created_at FROM inventory_sets;
DROP TABLE inventory_sets;
ALTER TABLE inventory_sets_v8 RENAME TO inventory_sets;
