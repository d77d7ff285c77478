-- Readers without a TLP ceiling, or with TLP:RED (every level but 0),
-- read one index range as before levels existed: the selection indexes
-- without tlp come back under their names, and flags holds the marks
-- they see.
--
-- The "_tlp" indexes serve ceilings below TLP:RED only. They hold tlp
-- right after what picks the range, so that a page reads one range per
-- visible level (hidden levels are never read), and ceilings last, so
-- that the ceiling's mark test ("ceilings & m = m") is evaluated from the
-- index: an entry it rejects costs no row read. They hold only what some
-- ceiling below TLP:RED may select: versions below TLP:RED ("tlp < 5"),
-- and for the latest and first indexes the versions that are the latest
-- (or first) of the object's top spec version under some such ceiling
-- (at most four per object), so a TLP:RED version, what an unmarked one
-- is by default, costs no more index writes than before levels. Queries
-- on them carry these conditions as written here: SQLite uses a partial
-- index only for a query with the same term.

DROP INDEX objects_coll;
DROP INDEX objects_type;
DROP INDEX objects_latest;
DROP INDEX objects_latest_type;
DROP INDEX objects_first;
DROP INDEX objects_spec;

CREATE INDEX objects_coll ON objects (coll, date_added);
CREATE INDEX objects_type ON objects (coll, type, date_added);
CREATE INDEX objects_latest ON objects (coll, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_latest_type ON objects (coll, type, date_added) WHERE flags & 5 = 5;
CREATE INDEX objects_first ON objects (coll, date_added) WHERE flags & 6 = 6;
CREATE INDEX objects_spec ON objects (coll, spec_version, date_added);

CREATE INDEX objects_coll_tlp ON objects (coll, tlp, date_added, ceilings) WHERE tlp < 5;
CREATE INDEX objects_type_tlp ON objects (coll, type, tlp, date_added, ceilings) WHERE tlp < 5;
CREATE INDEX objects_latest_tlp ON objects (coll, tlp, date_added, ceilings) WHERE ceilings & (ceilings >> 8) & 15 != 0;
CREATE INDEX objects_latest_type_tlp ON objects (coll, type, tlp, date_added, ceilings) WHERE ceilings & (ceilings >> 8) & 15 != 0;
CREATE INDEX objects_first_tlp ON objects (coll, tlp, date_added, ceilings) WHERE (ceilings >> 4) & (ceilings >> 8) & 15 != 0;
CREATE INDEX objects_spec_tlp ON objects (coll, spec_version, tlp, date_added, ceilings) WHERE tlp < 5;
