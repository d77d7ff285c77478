-- 0003: object heads; statuses kept entry by entry; a collection's
-- validation level. The Go part of this migration (migrate3) makes object
-- ids canonical, fills heads and moves the statuses over.

ALTER TABLE collections ADD COLUMN validation TEXT NOT NULL DEFAULT '';

-- A collection id names one collection in the whole store.
CREATE INDEX collections_id ON collections (id);

-- One row per object (one id in one collection) summarising its versions
-- (collections.Head, packed by packHead): kept current by every write, so
-- that adding a version reads this row rather than every version. The key
-- is the id split as uuid (lower case) then type, so that the lookup of an
-- id also finds its UUID under another type.
CREATE TABLE heads (
	coll    INTEGER NOT NULL,
	uuid    TEXT NOT NULL,
	type    TEXT NOT NULL,
	summary BLOB NOT NULL,
	PRIMARY KEY (coll, uuid, type)
) WITHOUT ROWID;

DROP INDEX statuses_expires;
ALTER TABLE statuses RENAME TO statuses_0001;

-- A status and its entries. Entries are numbered from 0 in the order they
-- were created: successes, failures, then pendings; pendings settle in
-- order, so the next one to settle is entries - pendings.
CREATE TABLE statuses (
	skey              INTEGER PRIMARY KEY,
	api_root          TEXT NOT NULL,
	id                TEXT NOT NULL,
	collection        TEXT NOT NULL,
	owner             TEXT NOT NULL,
	request_timestamp INTEGER NOT NULL,
	total_count       INTEGER NOT NULL,
	entries           INTEGER NOT NULL,
	pendings          INTEGER NOT NULL, -- entries still pending
	updated           INTEGER NOT NULL, -- last write
	expires           INTEGER NOT NULL,
	UNIQUE (api_root, id)
);

CREATE INDEX statuses_expires ON statuses (expires);
CREATE INDEX statuses_pending ON statuses (updated) WHERE pendings > 0;

CREATE TABLE status_entries (
	skey    INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	state   INTEGER NOT NULL, -- 0 pending, 1 success, 2 failure
	id      TEXT NOT NULL,
	version TEXT NOT NULL,
	message TEXT NOT NULL,
	PRIMARY KEY (skey, seq)
) WITHOUT ROWID;
