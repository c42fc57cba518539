-- Patchwarden PostgreSQL schema, version 6: content-addressed inventories
-- (patchwarden_store::inventory_sets). Forward-only: never edit after it lands.

-- Every distinct package tuple once; rows never change. Absent source fields are ''.
CREATE TABLE packages (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT NOT NULL,
    arch           TEXT NOT NULL,
    version        TEXT NOT NULL,
    source_name    TEXT NOT NULL,
    source_version TEXT NOT NULL,
    UNIQUE (name, arch, version, source_name, source_version)
);
CREATE INDEX packages_source_name ON packages (source_name) WHERE source_name <> '';

-- Every distinct inventory once, under its canonical hash (format included), as the
-- ascending ids of its packages joined by commas. assets.inventory_hash points here.
CREATE TABLE inventory_sets (
    hash          TEXT   PRIMARY KEY,
    format        TEXT   NOT NULL,
    package_count BIGINT NOT NULL,
    package_ids   TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

INSERT INTO packages (name, arch, version, source_name, source_version)
SELECT DISTINCT name, arch, version, COALESCE(source_name, ''), COALESCE(source_version, '')
FROM inventory;

INSERT INTO inventory_sets (hash, format, package_count, package_ids, created_at)
SELECT a.inventory_hash, COALESCE(a.package_format, 'deb'), a.package_count,
       COALESCE((SELECT string_agg(p.id::text, ',' ORDER BY p.id)
                 FROM inventory i
                 JOIN packages p ON p.name = i.name AND p.arch = i.arch AND p.version = i.version
                      AND p.source_name = COALESCE(i.source_name, '')
                      AND p.source_version = COALESCE(i.source_version, '')
                 WHERE i.asset_id = a.id), ''),
       a.updated_at
FROM assets a
WHERE a.inventory_hash IS NOT NULL
ON CONFLICT (hash) DO NOTHING;

DROP TABLE inventory;
