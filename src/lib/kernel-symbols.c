// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A kernel's symbol table: read and checked (a System.map stub, other
 * lines or zero addresses are refused), found where users have it (or
 * /proc/kallsyms of the running kernel), kept as a content-addressed
 * snapshot and extracted from it, checked, for a build.
 *
 *   <catalogue dir>/symbols/<sha256>.gz   a symbol table; sha256 of its text
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "kernel.h"
#include "util.h"

/* --- symbol tables ----------------------------------------------------------- */

#define STUB_TEXT "The real System.map is in the "

/* "ADDRESS TYPE NAME" with an optional "\t[module]": kallsyms or System.map */
static bool symbol_line(const char *line, const char *end, bool *nonzero)
{
	const char *p = line;
	bool zero = true;

	while (p < end && strchr("0123456789abcdefABCDEF", *p) && *p) {
		if (*p != '0')
			zero = false;
		p++;
	}
	if (p == line || p + 3 >= end || p[0] != ' ' || p[2] != ' ' ||
	    !((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z')) ||
	    p[3] == ' ' || p[3] == '\t')
		return false;
	if (!zero)
		*nonzero = true;
	return true;
}

static int check_symbols(struct elp_ctx *ctx, const char *path,
			 const char *text, size_t len)
{
	const char *line = text, *end = text + len, *stub;
	unsigned long lineno = 0, lines = 0;
	bool nonzero = false;

	if (!text || !len) {
		elp_err(ctx, "'%s' is empty, not a symbol table", path);
		return -EINVAL;
	}
	stub = strstr(text, STUB_TEXT);
	if (stub) {
		const char *eol = strchrnul(stub, '\n');

		elp_err(ctx,
			"'%s' is a System.map stub (\"%.*s\"), not a symbol table",
			path, (int)(eol - stub), stub);
		return -EINVAL;
	}
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			eol = end;
		lineno++;
		if (eol > line) {
			if (!symbol_line(line, eol, &nonzero)) {
				elp_err(ctx,
					"'%s' is not a kallsyms symbol table or System.map (line %lu is not 'ADDRESS TYPE NAME')",
					path, lineno);
				return -EINVAL;
			}
			lines++;
		}
		line = eol + 1;
	}
	if (!lines) {
		elp_err(ctx, "'%s' is empty, not a symbol table", path);
		return -EINVAL;
	}
	if (!nonzero) {
		elp_err(ctx,
			"'%s' has only zero addresses: it was read without the privilege to see them (kptr_restrict); read it as root",
			path);
		return -EINVAL;
	}
	return 0;
}

static bool compressed(const char *data, size_t len)
{
	static const char *const magics[] = { "\x1f\x8b",
					      "\xfd"
					      "7zXZ",
					      "\x28\xb5\x2f\xfd", NULL };
	const char *const *m;

	for (m = magics; *m; m++)
		if (len >= strlen(*m) && !memcmp(data, *m, strlen(*m)))
			return true;
	return false;
}

int elp_kernel_read_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			    const char *path, const char *shown,
			    const char *origin)
{
	char sha[ELP_SHA256_HEX_LEN + 1];
	char *text = NULL, *abs;
	size_t len = 0;
	int err;

	/* plain first: /proc/kallsyms is read as it is */
	err = elp_read_file(ctx, path, &text, &len);
	if (!err && compressed(text, len)) {
		free(text);
		text = NULL;
		err = elp_read_any(ctx, path, "symbol table", &text, &len);
	}
	if (err)
		return err;
	err = check_symbols(ctx, shown ? shown : path, text, len);
	if (err) {
		free(text);
		return err;
	}
	elp_sha256_hex(text, len, sha);
	abs = elp_abspath(shown ? shown : path);
	err = elp_kernel_set_origin(k, ELP_KERNEL_SYMBOLS,
				    abs ? abs : (shown ? shown : path), origin,
				    sha);
	free(abs);
	if (err) {
		free(text);
		return err;
	}
	free(k->symbols_text);
	k->symbols_text = text;
	k->symbols_len = len;
	return 0;
}

/* Does /proc/version describe release? "Linux version RELEASE (...". */
static bool version_is(const char *version, const char *release)
{
	size_t n = strlen(release);

	return version && strncmp(version, "Linux version ", 14) == 0 &&
	       strncmp(version + 14, release, n) == 0 &&
	       (version[14 + n] == ' ' || version[14 + n] == '\0');
}

/* /proc/kallsyms, when it describes k's release. */
static int live_symbols(struct elp_ctx *ctx, struct elp_kernel *k)
{
	char *running = NULL, *path = NULL, *version = NULL;
	int err = -ENOENT;

	if (elp_kernel_running_release(ctx, &running) < 0 ||
	    strcmp(running, k->release) != 0)
		goto out;
	path = elp_rooted(ctx, "/proc/version");
	if (!path || elp_read_file(NULL, path, &version, NULL) < 0)
		goto out;
	*strchrnul(version, '\n') = '\0';
	if (!version_is(version, k->release)) {
		elp_err(ctx,
			"'%s' says \"%s\", not release %s: its /proc/kallsyms is another kernel's",
			path, version, k->release);
		err = -EINVAL;
		goto out;
	}
	free(path);
	path = elp_rooted(ctx, "/proc/kallsyms");
	if (!path || !elp_is_file(path))
		goto out;
	err = elp_kernel_read_symbols(ctx, k, path, NULL,
				      ELP_KERNEL_LIVE_SYMBOLS);
	if (!err && !k->build_id)
		k->build_id = elp_kernel_running_build_id(ctx);
out:
	free(running);
	free(path);
	free(version);
	return err;
}

int elp_kernel_find_symbols(struct elp_ctx *ctx, struct elp_kernel *k)
{
	struct {
		char *path;
		const char *origin;
	} c[4] = { { NULL, "System.map in the build dir" },
		   { NULL, "System.map in the source dir" },
		   { NULL, "System.map-RELEASE beside the image" },
		   { NULL, "/boot/System.map-RELEASE" } };
	size_t i;
	int err = -ENOENT;

	if (k->build_dir &&
	    asprintf(&c[0].path, "%s/System.map", k->build_dir) < 0)
		c[0].path = NULL;
	if (k->source && k->source_kind && !strcmp(k->source_kind, "dir") &&
	    (!k->build_dir || strcmp(k->source, k->build_dir) != 0) &&
	    asprintf(&c[1].path, "%s/System.map", k->source) < 0)
		c[1].path = NULL;
	if (k->image_path) {
		char *img = strdup(k->image_path);

		if (img && asprintf(&c[2].path, "%s/System.map-%s",
				    dirname(img), k->release) < 0)
			c[2].path = NULL;
		free(img);
	}
	{
		char boot[512];

		snprintf(boot, sizeof(boot), "/boot/System.map-%s", k->release);
		c[3].path = elp_rooted(ctx, boot);
		if (c[2].path && c[3].path && !strcmp(c[2].path, c[3].path)) {
			free(c[2].path);
			c[2].path = NULL;
		}
	}
	for (i = 0; i < 4 && err == -ENOENT; i++) {
		char *text = NULL;

		if (!c[i].path || !elp_is_file(c[i].path))
			continue;
		/* a stub is what Debian installs: skip it, saying so */
		if (elp_read_file(ctx, c[i].path, &text, NULL) == 0) {
			char *stub = strstr(text, STUB_TEXT);

			if (stub) {
				*strchrnul(stub, '\n') = '\0';
				elp_warn(
					ctx,
					"skipping '%s': a System.map stub (\"%s\"), not a symbol table",
					c[i].path, stub);
				free(text);
				continue;
			}
		}
		free(text);
		err = elp_kernel_read_symbols(ctx, k, c[i].path, NULL,
					      c[i].origin);
	}
	for (i = 0; i < 4; i++)
		free(c[i].path);
	if (err == -ENOENT)
		err = live_symbols(ctx, k);
	return err;
}

static char *store_dir(struct elp_catalogue *cat)
{
	char *db = strdup(elp_catalogue_path(cat)), *dir = NULL;

	if (db && asprintf(&dir, "%s/symbols", dirname(db)) < 0)
		dir = NULL;
	free(db);
	return dir;
}

/* gzip through libarchive's raw writer, into a temporary file renamed. */
static int write_gz(struct elp_ctx *ctx, const char *path, const char *data,
		    size_t len)
{
	struct archive_entry *e = archive_entry_new();
	struct archive *a = archive_write_new();
	char *tmp = NULL;
	int err = 0;

	if (!e || !a || asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		err = -ENOMEM;
		tmp = NULL;
		goto out;
	}
	archive_entry_set_pathname(e, "symbols");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, tmp) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK) {
		elp_err(ctx, "cannot write '%s': %s", tmp,
			archive_error_string(a));
		err = -EIO;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err = -errno;
		elp_err(ctx, "cannot rename '%s' to '%s': %s", tmp, path,
			strerror(-err));
		unlink(tmp);
	}
out:
	archive_write_free(a);
	archive_entry_free(e);
	free(tmp);
	return err;
}

int elp_kernel_snapshot_symbols(struct elp_catalogue *cat, struct elp_kernel *k)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	const char *sha = k->inputs[ELP_KERNEL_SYMBOLS].sha256;
	char *dir = store_dir(cat), *path = NULL;
	int err;

	if (!dir || !sha || asprintf(&path, "%s/%s.gz", dir, sha) < 0) {
		free(dir);
		return -ENOMEM;
	}
	err = elp_mkdir_p(ctx, dir, 0755);
	/* content-addressed: an existing snapshot is checked, not rewritten */
	if (!err && elp_is_file(path)) {
		struct elp_kernel probe = { .name = k->name,
					    .symbols_path = path,
					    .symbols_sha256 = (char *)sha };

		if (elp_kernel_symbols_extract(NULL, &probe, NULL) != 0)
			err = write_gz(ctx, path, k->symbols_text,
				       k->symbols_len);
	} else if (!err) {
		err = write_gz(ctx, path, k->symbols_text, k->symbols_len);
	}
	if (!err) {
		free(k->symbols_path);
		free(k->symbols_sha256);
		k->symbols_path = path;
		k->symbols_sha256 = strdup(sha);
		path = NULL;
		if (!k->symbols_sha256)
			err = -ENOMEM;
	}
	free(path);
	free(dir);
	return err;
}

int elp_kernel_symbols_extract(struct elp_ctx *ctx, const struct elp_kernel *k,
			       const char *dest)
{
	char sha[ELP_SHA256_HEX_LEN + 1];
	char *text = NULL;
	size_t len = 0;
	int err;

	if (!k->symbols_path) {
		elp_err(ctx,
			"kernel '%s' has no symbol table; add it with 'elivepatch kernel add --symbols FILE' or --image VMLINUZ",
			k->name);
		return -ENOENT;
	}
	if (!k->symbols_sha256) {
		elp_err(ctx,
			"kernel '%s' records its symbol table as a path ('%s'), not a snapshot, which may describe another kernel by now; remove the kernel and add it again",
			k->name, k->symbols_path);
		return -ESTALE;
	}
	if (!elp_is_file(k->symbols_path)) {
		elp_err(ctx,
			"the symbol table of kernel '%s' is missing from the store ('%s'); remove the kernel and add it again",
			k->name, k->symbols_path);
		return -ENOENT;
	}
	err = elp_read_any(ctx, k->symbols_path, "symbol table", &text, &len);
	if (err)
		return err;
	elp_sha256_hex(text, len, sha);
	if (strcmp(sha, k->symbols_sha256) != 0) {
		elp_err(ctx,
			"the symbol table of kernel '%s' was altered: '%s' has sha256 %s, %s was recorded; remove the kernel and add it again",
			k->name, k->symbols_path, sha, k->symbols_sha256);
		free(text);
		return -EBADMSG;
	}
	err = dest ? elp_write_file_atomic(ctx, dest, text, len, 0644) : 0;
	free(text);
	return err;
}
