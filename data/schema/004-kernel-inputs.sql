-- A kernel record owns what it was built from.  The symbol table is a
-- snapshot in the catalogue's store (<catalogue dir>/symbols/<sha256>.gz):
-- symbols_path names the snapshot, symbols_sha256 its uncompressed content.
-- modules_dir is the kernel's modules tree (lib/modules/RELEASE).
ALTER TABLE kernels ADD COLUMN symbols_sha256 TEXT;
ALTER TABLE kernels ADD COLUMN modules_dir TEXT;

-- Where each input of a kernel came from and how it was found, for
-- `kernel show`: input is config, symbols, source, build, image or modules.
CREATE TABLE kernel_inputs (
	kernel_id INTEGER NOT NULL REFERENCES kernels(id) ON DELETE CASCADE,
	input TEXT NOT NULL,
	path TEXT,
	origin TEXT NOT NULL,
	sha256 TEXT,
	PRIMARY KEY (kernel_id, input)
);
