-- 'overlay remove': the overlay's row stays, as the origin of its patches
-- (which stay catalogued, with their history), marked removed at this
-- time; its fixes are marked removed too.  Added again under the same
-- name, the overlay takes up its row again (removed_at NULL).
ALTER TABLE overlays ADD COLUMN removed_at INTEGER;
