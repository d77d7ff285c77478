-- 0001: initial schema.
--
-- Times are INTEGER microseconds since the Unix epoch unless noted.

CREATE TABLE api_roots (
	path               TEXT PRIMARY KEY,
	title              TEXT NOT NULL,
	description        TEXT NOT NULL,
	max_content_length INTEGER NOT NULL
);

CREATE TABLE collections (
	-- coll is the small key objects refer to; it never changes once assigned
	-- (PutCollection upserts in place), so it can be cached.
	coll        INTEGER PRIMARY KEY,
	api_root    TEXT NOT NULL REFERENCES api_roots (path),
	id          TEXT NOT NULL,
	alias       TEXT, -- NULL when unset
	title       TEXT NOT NULL,
	description TEXT NOT NULL,
	media_types TEXT NOT NULL, -- JSON array of strings
	UNIQUE (api_root, id)
);

CREATE UNIQUE INDEX collections_alias ON collections (api_root, alias) WHERE alias IS NOT NULL;

CREATE TABLE objects (
	-- date_added is unique across the store and strictly increasing in commit
	-- order, so it doubles as the rowid and as the pagination cursor.
	date_added   INTEGER PRIMARY KEY,
	coll         INTEGER NOT NULL REFERENCES collections (coll),
	id           TEXT NOT NULL,
	type         TEXT NOT NULL,
	spec_version TEXT NOT NULL,
	-- version is UTC in the fixed-width form 2006-01-02T15:04:05.000000000Z,
	-- so that text order is time order, at nanosecond precision.
	version      TEXT NOT NULL,
	-- flags: 1 latest and 2 first version within (id, spec_version);
	-- 4 spec_version is the highest of the id; 8 version was taken from
	-- date_added (the object has neither modified nor created).
	flags        INTEGER NOT NULL,
	-- meta repeats version, spec_version, type and id packed in one value
	-- (see packMeta in Go): a page reads one column instead of four, each
	-- of which costs a driver round trip.
	meta         TEXT NOT NULL,
	raw          BLOB NOT NULL -- kept last: metadata-only reads stop before it
);

-- Queries repeat the partial-index conditions verbatim ("flags & 5 = 5"):
-- SQLite only uses a partial index when the query contains the same term.
CREATE INDEX objects_coll ON objects (coll, date_added);
CREATE INDEX objects_type ON objects (coll, type, date_added);
CREATE UNIQUE INDEX objects_id ON objects (coll, id, version);
CREATE INDEX objects_latest ON objects (coll, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_latest_type ON objects (coll, type, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_first ON objects (coll, date_added) WHERE flags & 6 = 6;

CREATE TABLE statuses (
	api_root TEXT NOT NULL,
	id       TEXT NOT NULL,
	expires  INTEGER NOT NULL,
	doc      TEXT NOT NULL, -- the whole status as JSON
	PRIMARY KEY (api_root, id)
);

CREATE INDEX statuses_expires ON statuses (expires);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
