-- 0008: the sharing conditions of read grants (authz.Conditions). Existing
-- grants get none: no ceiling, no embargo, sources shown.
--   max_tlp       TLP level name ('clear' .. 'red'); '' for no ceiling
--   embargo_ms    milliseconds a version stays hidden after its date_added
--   hide_creator  1: created_by_ref is served as the hub's identity
--   hide_sources  JSON array of external reference source names to remove

ALTER TABLE grants ADD COLUMN max_tlp TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN embargo_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN hide_creator INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN hide_sources TEXT NOT NULL DEFAULT '[]';
