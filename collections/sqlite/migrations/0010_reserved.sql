-- Reserved: this schema version is taken by a change developed alongside.
SELECT 1;
