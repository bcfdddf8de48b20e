-- elivepatch catalogue, schema version 1.
-- Applied in one transaction; PRAGMA user_version is set by the code.

CREATE TABLE kernels (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	release TEXT NOT NULL,
	version_text TEXT,
	arch TEXT NOT NULL DEFAULT 'x86_64',
	source TEXT,
	source_kind TEXT CHECK (source_kind IN ('dir', 'tarball')),
	build_dir TEXT,
	config_path TEXT,
	config TEXT NOT NULL,
	config_sha256 TEXT NOT NULL,
	cc_version_text TEXT,
	build_id TEXT,
	symbols_path TEXT,
	livepatch INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX kernels_release ON kernels(release);

CREATE TABLE toolchains (
	id INTEGER PRIMARY KEY,
	cc_path TEXT NOT NULL UNIQUE,
	version_text TEXT NOT NULL,
	target TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

-- Both livepatch source patches ('livepatch') and the out-of-tree patches a
-- kernel was built with ('kernel').
CREATE TABLE patches (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL CHECK (kind IN ('livepatch', 'kernel')),
	sha256 TEXT NOT NULL,
	content TEXT NOT NULL,
	origin TEXT,
	subject TEXT,
	created_at INTEGER NOT NULL,
	UNIQUE (kind, sha256)
);

CREATE TABLE patch_files (
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
	path TEXT NOT NULL,
	status TEXT NOT NULL,
	hunks INTEGER NOT NULL,
	additions INTEGER NOT NULL,
	deletions INTEGER NOT NULL,
	PRIMARY KEY (patch_id, path)
);
CREATE INDEX patch_files_path ON patch_files(path);

-- Functions named in hunk headers: what a patch is likely to touch.
CREATE TABLE patch_functions (
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
	path TEXT NOT NULL,
	function TEXT NOT NULL,
	PRIMARY KEY (patch_id, path, function)
);
CREATE INDEX patch_functions_function ON patch_functions(function);

CREATE TABLE patch_cves (
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
	cve TEXT NOT NULL,
	PRIMARY KEY (patch_id, cve)
);
CREATE INDEX patch_cves_cve ON patch_cves(cve);

CREATE TABLE kernel_patches (
	kernel_id INTEGER NOT NULL REFERENCES kernels(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE RESTRICT,
	PRIMARY KEY (kernel_id, position),
	UNIQUE (kernel_id, patch_id)
);

CREATE TABLE builds (
	id INTEGER PRIMARY KEY,
	kernel_id INTEGER REFERENCES kernels(id) ON DELETE SET NULL,
	kernel_release TEXT NOT NULL,
	toolchain_id INTEGER REFERENCES toolchains(id) ON DELETE SET NULL,
	module_name TEXT NOT NULL,
	inputs_sha256 TEXT NOT NULL,
	cumulative INTEGER NOT NULL DEFAULT 0,
	backend TEXT NOT NULL DEFAULT 'local',
	builder_host TEXT,
	status TEXT NOT NULL
		CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'refused')),
	reason TEXT,
	log_path TEXT,
	artefact_path TEXT,
	artefact_sha256 TEXT,
	verified TEXT CHECK (verified IN ('passed', 'failed')),
	verify_log TEXT,
	created_at INTEGER NOT NULL,
	started_at INTEGER,
	finished_at INTEGER,
	duration_ms INTEGER
);
CREATE INDEX builds_kernel ON builds(kernel_id);
CREATE INDEX builds_inputs ON builds(inputs_sha256, status);

CREATE TABLE build_patches (
	build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	patch_id INTEGER NOT NULL REFERENCES patches(id) ON DELETE RESTRICT,
	PRIMARY KEY (build_id, position)
);
CREATE INDEX build_patches_patch ON build_patches(patch_id);

CREATE TABLE build_stages (
	build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	stage TEXT NOT NULL,
	duration_ms INTEGER NOT NULL,
	PRIMARY KEY (build_id, position)
);

-- The record users query: what happened to which kernel, build and patch.
-- kernel_release and module are copied so history outlives removed rows.
CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	kind TEXT NOT NULL,
	kernel_id INTEGER REFERENCES kernels(id) ON DELETE SET NULL,
	kernel_release TEXT,
	build_id INTEGER REFERENCES builds(id) ON DELETE SET NULL,
	patch_id INTEGER REFERENCES patches(id) ON DELETE SET NULL,
	module TEXT,
	host TEXT,
	detail TEXT
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_kernel ON events(kernel_release, time);
CREATE INDEX events_build ON events(build_id);
CREATE INDEX events_patch ON events(patch_id);

-- Work enqueued by Portage hooks and timers, run by `elivepatch queue run`.
CREATE TABLE jobs (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'queued'
		CHECK (state IN ('queued', 'running', 'done', 'failed')),
	origin TEXT,
	arguments TEXT NOT NULL DEFAULT '{}',
	error TEXT,
	created_at INTEGER NOT NULL,
	started_at INTEGER,
	finished_at INTEGER
);
CREATE INDEX jobs_state ON jobs(state, created_at);
