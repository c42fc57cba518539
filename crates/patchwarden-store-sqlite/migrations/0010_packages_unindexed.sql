-- Patchwarden SQLite schema, version 10: the package tuple dictionary without indexes.
-- Forward-only: never edit after it lands.
--
-- Each tuple seen for the first time landed on a random leaf of the five-column unique
-- index (and often of the source-name index): those pages were most of what a first
-- inventory report wrote. The store now decides whether a tuple is stored from its
-- in-memory dictionary, read in full and kept up to date inside the write transaction
-- (inventory::Tuples), and gives a new tuple the next id, so that a new row is an
-- append to the table. Rows keep their ids: inventory_sets name them.
CREATE TABLE packages_v10 (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    arch           TEXT NOT NULL,
    version        TEXT NOT NULL,
    source_name    TEXT NOT NULL,
    source_version TEXT NOT NULL
);
INSERT INTO packages_v10 (id, name, arch, version, source_name, source_version)
SELECT id, name, arch, version, source_name, source_version FROM packages ORDER BY id;
DROP TABLE packages;
ALTER TABLE packages_v10 RENAME TO packages;
