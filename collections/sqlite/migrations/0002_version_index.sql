-- match[version]=<timestamp> without match[id] reads one range of this index
-- per timestamp, instead of filtering the whole collection.
CREATE INDEX objects_version ON objects (coll, version, date_added);

-- match[spec_version] reads one range of this index per spec version.
CREATE INDEX objects_spec ON objects (coll, spec_version, date_added);
