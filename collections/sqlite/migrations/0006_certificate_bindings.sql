-- 0006: certificate bindings: a TLS client certificate identity (a name the
-- certificate carries, in the form authz.CertificateIdentities gives) maps
-- to a user, optionally only for certificates of one client CA. Writes
-- increment authz_generation like every other access-control change.

CREATE TABLE certificate_bindings (
	id       TEXT PRIMARY KEY,
	user_id  TEXT NOT NULL REFERENCES users (id),
	identity TEXT NOT NULL,
	issuer   TEXT NOT NULL, -- hex SHA-256 of the client CA's key; '' for any
	created  INTEGER NOT NULL,
	UNIQUE (identity, issuer) -- serves the lookup of a certificate's names
);

CREATE INDEX certificate_bindings_user ON certificate_bindings (user_id, id);
