-- 0004: access control: organizations, users, API tokens, grants, the policy
-- generation, the audit log.
--
-- Times here are INTEGER milliseconds since the Unix epoch (the precision
-- authz.Store promises on every backend); NULL where a time is optional.

-- One row: incremented by every change to the tables below but audit_events,
-- in the same transaction, so that other processes know when to reload.
CREATE TABLE authz_generation (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
);
INSERT INTO authz_generation (id, value) VALUES (1, 0);

CREATE TABLE organizations (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL
);

CREATE TABLE users (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL UNIQUE,
	organization_id TEXT NOT NULL REFERENCES organizations (id),
	role            TEXT NOT NULL,
	password_hash   TEXT NOT NULL, -- PHC string; '' for none
	disabled        INTEGER NOT NULL,
	created         INTEGER NOT NULL,
	updated         INTEGER NOT NULL
);

CREATE INDEX users_organization ON users (organization_id, name);

CREATE TABLE tokens (
	id        TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL REFERENCES users (id),
	name      TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE, -- hex SHA-256 of the secret
	prefix    TEXT NOT NULL,
	expires   INTEGER,
	revoked   INTEGER,
	last_used INTEGER,
	created   INTEGER NOT NULL,
	UNIQUE (user_id, name)
);

CREATE INDEX tokens_user ON tokens (user_id, id);

CREATE TABLE grants (
	id           TEXT PRIMARY KEY,
	subject_kind TEXT NOT NULL, -- organization, user or public
	subject_id   TEXT NOT NULL, -- '' for public
	api_root     TEXT NOT NULL,
	collection   TEXT NOT NULL,
	action       TEXT NOT NULL,
	created      INTEGER NOT NULL,
	UNIQUE (subject_kind, subject_id, api_root, collection, action)
);

CREATE INDEX grants_subject ON grants (subject_kind, subject_id, id);
CREATE INDEX grants_collection ON grants (api_root, collection, id);

CREATE TABLE audit_events (
	id              TEXT PRIMARY KEY,
	time            INTEGER NOT NULL,
	user_id         TEXT NOT NULL,
	user_name       TEXT NOT NULL,
	organization_id TEXT NOT NULL,
	source_address  TEXT NOT NULL,
	request_id      TEXT NOT NULL,
	action          TEXT NOT NULL,
	api_root        TEXT NOT NULL,
	collection      TEXT NOT NULL,
	details         TEXT NOT NULL -- JSON; '' for none
);

-- Listings go newest first by (time, id); each filter has an index that
-- yields its events in that order.
CREATE INDEX audit_time ON audit_events (time, id);
CREATE INDEX audit_user ON audit_events (user_id, time, id);
CREATE INDEX audit_organization ON audit_events (organization_id, time, id);
CREATE INDEX audit_action ON audit_events (action, time, id);
CREATE INDEX audit_collection ON audit_events (api_root, collection, time, id);
