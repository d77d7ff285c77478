-- 0011: webhook subscriptions and their deliveries (collections/webhook).
-- Times are microseconds since the epoch (0: none).
--   sealed_secret   the signing secret, sealed (webhook.Sealer)
--   cursor_us       date_added up to which versions are queued
--   lease_owner     process serving the subscription until lease_until_us
CREATE TABLE webhook_subscriptions (
	id             TEXT PRIMARY KEY,
	organization   TEXT NOT NULL,
	api_root       TEXT NOT NULL,
	collection     TEXT NOT NULL,
	url            TEXT NOT NULL,
	sealed_secret  BLOB NOT NULL,
	created_by     TEXT NOT NULL,
	created_us     INTEGER NOT NULL,
	cursor_us      INTEGER NOT NULL,
	lease_owner    TEXT NOT NULL DEFAULT '',
	lease_until_us INTEGER NOT NULL DEFAULT 0
);
-- Subscriptions of one organization, by id.
CREATE INDEX webhook_subscriptions_org ON webhook_subscriptions (organization, id);

-- One row per delivery: the versions added in (after_us, until_us].
CREATE TABLE webhook_deliveries (
	subscription    TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
	id              TEXT NOT NULL,
	after_us        INTEGER NOT NULL,
	until_us        INTEGER NOT NULL,
	redelivery      TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_us INTEGER NOT NULL,
	created_us      INTEGER NOT NULL,
	updated_us      INTEGER NOT NULL,
	count           INTEGER NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (subscription, id)
);
-- Due deliveries of a subscription (and its pending one to extend).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (subscription, state, next_attempt_us);
-- Newest deliveries of a subscription first.
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (subscription, created_us, id);
-- Finished deliveries to prune.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (state, updated_us);
