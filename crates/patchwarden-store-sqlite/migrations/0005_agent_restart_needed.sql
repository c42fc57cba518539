-- Processes that still map replaced shared libraries, as the agent last reported them
-- (a JSON array of "name[pid]").
ALTER TABLE agents ADD COLUMN restart_needed TEXT NOT NULL DEFAULT '[]';
