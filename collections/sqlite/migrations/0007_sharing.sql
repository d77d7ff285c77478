-- Sharing conditions: each version's TLP level decides who may see it, and
-- reads under a TLP ceiling are answered from the selection indexes.

ALTER TABLE collections ADD COLUMN unmarked_tlp INTEGER NOT NULL DEFAULT 0;

-- objects is rebuilt so that tlp, granular_tlp and ceilings come before
-- raw: metadata-only reads stop before raw, which columns added at the end
-- would sit behind. tlp starts at 5 (TLP:RED, what an unmarked version
-- gets by default) and ceilings at 0 (no marks below TLP:RED); the Go part
-- of this migration computes the real levels from raw, then the marks.
CREATE TABLE objects_0007 (
	date_added   INTEGER PRIMARY KEY,
	coll         INTEGER NOT NULL REFERENCES collections (coll),
	id           TEXT NOT NULL,
	type         TEXT NOT NULL,
	spec_version TEXT NOT NULL,
	version      TEXT NOT NULL,
	flags        INTEGER NOT NULL,
	meta         TEXT NOT NULL,
	-- tlp: the level deciding visibility (stix.TLP: 1 clear .. 5 red);
	-- granular_tlp: the highest level of its granular markings (0: none).
	tlp          INTEGER NOT NULL,
	granular_tlp INTEGER NOT NULL,
	-- ceilings: the selection marks of the version under the ceilings
	-- below TLP:RED (collections.CeilingMarks, bit c-1 for ceiling c):
	-- bits 0-3 last, 4-7 first (within its spec version), 8-11 top spec
	-- version. Under TLP:RED, and without a ceiling, flags says.
	ceilings     INTEGER NOT NULL,
	raw          BLOB NOT NULL -- kept last: metadata-only reads stop before it
);

INSERT INTO objects_0007 (date_added, coll, id, type, spec_version, version, flags, meta, tlp, granular_tlp, ceilings, raw)
	SELECT date_added, coll, id, type, spec_version, version, flags, meta, 5, 0, 0, raw FROM objects;

DROP TABLE objects;
ALTER TABLE objects_0007 RENAME TO objects;

-- The selection indexes hold tlp right after what picks the range, so that
-- a page under a ceiling is one range per visible level, merged in
-- date_added order: hidden versions are never read.
CREATE INDEX objects_coll ON objects (coll, tlp, date_added);
CREATE INDEX objects_type ON objects (coll, type, tlp, date_added);
CREATE UNIQUE INDEX objects_id ON objects (coll, id, version);
CREATE INDEX objects_latest ON objects (coll, tlp, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_latest_type ON objects (coll, type, tlp, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_first ON objects (coll, tlp, date_added) WHERE flags & 6 = 6;
CREATE INDEX objects_version ON objects (coll, version, date_added);
CREATE INDEX objects_spec ON objects (coll, spec_version, tlp, date_added);

-- The marking definitions each collection's versions reference: for each
-- (collection, marking, version level), how many versions. A marking is
-- visible under a ceiling when its lowest level is at most the ceiling.
CREATE TABLE markings (
	coll    INTEGER NOT NULL,
	marking TEXT NOT NULL,
	tlp     INTEGER NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (coll, marking, tlp)
) WITHOUT ROWID;

-- The versions referencing each marking, by level and date_added: a row
-- per (version, marking) it references. Under an embargo bound, a marking
-- is visible at a level when a row of that level is at or before the
-- bound: one seek of the primary key per (marking, level) that markings
-- lists, whatever the number of versions.
CREATE TABLE marking_versions (
	coll       INTEGER NOT NULL,
	marking    TEXT NOT NULL,
	tlp        INTEGER NOT NULL,
	date_added INTEGER NOT NULL,
	PRIMARY KEY (coll, marking, tlp, date_added)
) WITHOUT ROWID;
