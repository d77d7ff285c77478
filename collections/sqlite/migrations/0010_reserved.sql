-- 0010: reserved for a change being made alongside 0011; it changes
-- nothing.
SELECT 1;
