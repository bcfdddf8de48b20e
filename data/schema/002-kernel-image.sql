-- The kernel image (vmlinuz) of a catalogued kernel: `verify` boots it.
ALTER TABLE kernels ADD COLUMN image_path TEXT;
