-- 0005: a deleted collection keeps its row, marked deleted, so that its
-- coll key is never handed to another collection: processes that cached it
-- (Store.colls) keep a key that means the same collection, and a
-- collection created again under the same API root and id gets it back.
ALTER TABLE collections ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
