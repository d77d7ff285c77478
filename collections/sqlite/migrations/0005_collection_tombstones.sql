-- 0005: a deleted collection keeps its row, marked deleted, so that its
-- coll key is not handed to another collection while its API root exists,
-- and a collection created again under the same API root and id gets it
-- back. Deleting the API root removes these rows; the store then checks
-- every cached key against its row (Store.collection).
ALTER TABLE collections ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
