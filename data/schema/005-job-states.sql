-- Jobs: a refusal is a state of its own ('refused', the reason in error),
-- no longer 'failed' with an error starting "refused: "; what the runner
-- and the refusal check need are columns instead of keys inside the
-- arguments: runner_pid and runner_host while a job runs (a job whose
-- runner died is queued again), inputs_key for a build job (the identity
-- of its kernel, patch and engine: a refused build is not built again
-- until it changes).  SQLite cannot alter a CHECK, so the table is copied.
CREATE TABLE jobs_new (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'queued'
		CHECK (state IN ('queued', 'running', 'done', 'failed', 'refused')),
	origin TEXT,
	arguments TEXT NOT NULL DEFAULT '{}',
	error TEXT,
	runner_pid INTEGER,
	runner_host TEXT,
	inputs_key TEXT,
	created_at INTEGER NOT NULL,
	started_at INTEGER,
	finished_at INTEGER
);
INSERT INTO jobs_new (id, kind, state, origin, arguments, error, runner_pid,
		      runner_host, inputs_key, created_at, started_at,
		      finished_at)
SELECT id, kind,
	CASE WHEN state = 'failed' AND error LIKE 'refused: %'
		THEN 'refused' ELSE state END,
	origin,
	CASE WHEN json_valid(arguments) AND json_type(arguments) = 'object'
		THEN json_remove(arguments, '$.runner_pid', '$.runner_host',
				 '$.key')
		ELSE arguments END,
	CASE WHEN state = 'failed' AND error LIKE 'refused: %'
		THEN substr(error, 10) ELSE error END,
	CASE WHEN json_valid(arguments) AND json_type(arguments) = 'object'
		AND json_type(arguments, '$.runner_pid') = 'integer'
		THEN json_extract(arguments, '$.runner_pid') END,
	CASE WHEN json_valid(arguments) AND json_type(arguments) = 'object'
		AND json_type(arguments, '$.runner_host') = 'text'
		THEN json_extract(arguments, '$.runner_host') END,
	CASE WHEN json_valid(arguments) AND json_type(arguments) = 'object'
		AND json_type(arguments, '$.key') = 'text'
		THEN json_extract(arguments, '$.key') END,
	created_at, started_at, finished_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE INDEX jobs_inputs ON jobs(inputs_key, state);

-- Builds left 'running' by a process that died before 003 recorded build
-- processes (builder_pid) could never be found as interrupted: they are.
UPDATE builds SET status = 'failed', reason = 'interrupted',
	finished_at = coalesce(finished_at, started_at, created_at)
WHERE status = 'running' AND builder_pid IS NULL;
