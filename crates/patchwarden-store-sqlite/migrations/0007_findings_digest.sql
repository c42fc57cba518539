-- A digest of the findings the last sync of each asset wanted (finding_rows::findings_digest).
-- A sync that wants the same findings again finds them in place without reading them back;
-- NULL (every asset after this migration, and the assets a re-levelling touched) means
-- "compare row by row".
ALTER TABLE assets ADD COLUMN findings_digest TEXT;
