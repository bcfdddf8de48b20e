-- The process running a build, so that a build whose process died (SIGKILL,
-- power loss) is not left 'running' forever: the next build on the same
-- host marks it failed ("interrupted").  builder_host is in 001.
ALTER TABLE builds ADD COLUMN builder_pid INTEGER;
