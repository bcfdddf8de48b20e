-- Patch overlays (elivepatch-overlay(5)): git repositories of fixes, one
-- directory per fix under livepatches/, each with its patches and fix.conf.
-- managed: 1 when elivepatch cloned it (overlay add) and syncs it; 0 for a
-- repository Portage syncs, read in place (repo.postsync.d hook).
CREATE TABLE overlays (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	url TEXT NOT NULL,
	path TEXT NOT NULL,
	managed INTEGER NOT NULL DEFAULT 1,
	signing_key TEXT,
	commit_id TEXT,
	synced_at INTEGER,
	created_at INTEGER NOT NULL
);

-- A fix of an overlay as its fix.conf describes it; state 'removed' once
-- the overlay no longer has it (its patches stay catalogued).
CREATE TABLE overlay_fixes (
	id INTEGER PRIMARY KEY,
	overlay_id INTEGER NOT NULL REFERENCES overlays(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	summary TEXT NOT NULL,
	upstream TEXT,
	versions TEXT,
	requires TEXT,
	cumulative_only INTEGER NOT NULL DEFAULT 0,
	commit_id TEXT,
	state TEXT NOT NULL DEFAULT 'present' CHECK (state IN ('present', 'removed')),
	updated_at INTEGER NOT NULL,
	UNIQUE (overlay_id, name)
);

-- Each patch of a fix, in the order it is applied: where it came from.
CREATE TABLE overlay_patches (
	patch_id INTEGER PRIMARY KEY REFERENCES patches(id) ON DELETE CASCADE,
	fix_id INTEGER NOT NULL REFERENCES overlay_fixes(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	path TEXT NOT NULL,
	commit_id TEXT
);
CREATE INDEX overlay_patches_fix ON overlay_patches(fix_id, position);

-- The earlier contents of a patch an overlay changed in place.
CREATE TABLE patch_versions (
	id INTEGER PRIMARY KEY,
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
	sha256 TEXT NOT NULL,
	content TEXT NOT NULL,
	origin TEXT,
	commit_id TEXT,
	replaced_at INTEGER NOT NULL
);
CREATE INDEX patch_versions_patch ON patch_versions(patch_id);
