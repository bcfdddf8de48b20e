// SPDX-License-Identifier: GPL-2.0-or-later
/* Reproducible tar + zstd bundles, written and extracted with libarchive. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "bundle.h"

#define MANIFEST "MANIFEST"
#define CHUNK 65536

/* One place turns a libarchive failure into a message and an errno. */
static int archive_fail(struct elp_ctx *ctx, struct archive *a,
			const char *what)
{
	int e = archive_errno(a);

	elp_err(ctx, "%s: %s", what,
		archive_error_string(a) ? archive_error_string(a)
					: "unknown libarchive error");
	return e > 0 ? -e : -EIO;
}

static int add_item(struct elp_bundle *b, const char *name, const char *path,
		    const void *data, size_t len)
{
	struct elp_bundle_item *n, *it;

	n = elp_grow(b->items, &b->cap, b->nr + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	b->items = n;
	it = &n[b->nr];
	memset(it, 0, sizeof(*it));
	it->name = strdup(name);
	it->path = path ? strdup(path) : NULL;
	it->data = path ? NULL : malloc(len ? len : 1);
	if (!it->name || (path && !it->path) || (!path && !it->data)) {
		free(it->name);
		free(it->path);
		free(it->data);
		return -ENOMEM;
	}
	if (!path && len)
		memcpy(it->data, data, len);
	it->len = len;
	b->nr++;
	return 0;
}

int elp_bundle_add_data(struct elp_bundle *b, const char *name,
			const void *data, size_t len)
{
	return add_item(b, name, NULL, data, len);
}

int elp_bundle_add_file(struct elp_bundle *b, const char *name,
			const char *path)
{
	return add_item(b, name, path, NULL, 0);
}

void elp_bundle_free(struct elp_bundle *b)
{
	size_t i;

	for (i = 0; i < b->nr; i++) {
		free(b->items[i].name);
		free(b->items[i].path);
		free(b->items[i].data);
	}
	free(b->items);
	b->items = NULL;
	b->nr = 0;
	b->cap = 0;
}

static int cmp_items(const void *a, const void *b)
{
	const struct elp_bundle_item *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Names we write and accept: no surprises for a shell, a tar or a path. */
static bool name_ok(const char *name)
{
	const char *p, *c;

	if (!*name || name[0] == '/' || strlen(name) > 200)
		return false;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._+-/", *p)))
			return false;
	/* each component: non-empty, not "." or ".." */
	for (c = name; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

static struct archive_entry *new_entry(const char *name, int64_t size)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_size(e, size);
	return e;
}

static int write_data(struct elp_ctx *ctx, struct archive *a, const char *name,
		      const char *data, size_t len)
{
	struct archive_entry *e = new_entry(name, (int64_t)len);
	int err = 0;

	if (!e)
		return -ENOMEM;
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, data, len) != (la_ssize_t)len))
		err = archive_fail(ctx, a, "cannot write the bundle");
	archive_entry_free(e);
	return err;
}

static int write_file(struct elp_ctx *ctx, struct archive *a, const char *name,
		      const char *path, int64_t size)
{
	struct archive_entry *e = new_entry(name, size);
	char *buf = malloc(CHUNK);
	int64_t left = size;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!e || !buf || fd < 0) {
		err = fd < 0 ? -errno : -ENOMEM;
		if (fd < 0)
			elp_err(ctx, "cannot open '%s': %m", path);
		goto out;
	}
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		err = archive_fail(ctx, a, "cannot write the bundle");
		goto out;
	}
	while (left > 0) {
		ssize_t n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			elp_err(ctx, "cannot read '%s': %s", path,
				n < 0 ? strerror(errno) : "it shrank");
			goto out;
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			err = archive_fail(ctx, a, "cannot write the bundle");
			goto out;
		}
		left -= n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	archive_entry_free(e);
	return err;
}

/* "sha256 size name" of every item, in order; sizes of files from stat. */
static int make_manifest(struct elp_ctx *ctx, const struct elp_bundle *b,
			 int64_t *sizes, struct elp_buf *out)
{
	char hex[ELP_SHA256_HEX_LEN + 1];
	size_t i;
	int err;

	for (i = 0; i < b->nr; i++) {
		const struct elp_bundle_item *it = &b->items[i];

		if (!name_ok(it->name) || strcmp(it->name, MANIFEST) == 0 ||
		    (i && strcmp(it->name, b->items[i - 1].name) == 0)) {
			elp_err(ctx, "invalid bundle entry name '%s'",
				it->name);
			return -EINVAL;
		}
		if (it->path) {
			struct stat st;

			if (stat(it->path, &st) < 0 || !S_ISREG(st.st_mode)) {
				elp_err(ctx, "cannot read '%s': %s", it->path,
					S_ISREG(st.st_mode) ? strerror(errno)
							    : "not a file");
				return -ENOENT;
			}
			sizes[i] = st.st_size;
			err = elp_sha256_file(ctx, it->path, hex);
		} else {
			sizes[i] = (int64_t)it->len;
			err = elp_sha256_hex(it->data, it->len, hex);
		}
		if (err)
			return err;
		if (elp_buf_printf(out, "%s %lld %s\n", hex,
				   (long long)sizes[i], it->name) < 0)
			return -ENOMEM;
	}
	return 0;
}

int elp_bundle_write(struct elp_ctx *ctx, const struct elp_bundle *b, int fd,
		     char manifest_sha256[ELP_SHA256_HEX_LEN + 1])
{
	struct elp_buf man = { 0 };
	struct archive *a = NULL;
	int64_t *sizes;
	size_t i;
	int err;

	sizes = calloc(b->nr ? b->nr : 1, sizeof(*sizes));
	if (!sizes)
		return -ENOMEM;
	qsort(b->items, b->nr, sizeof(*b->items), cmp_items);
	err = make_manifest(ctx, b, sizes, &man);
	if (!err && !man.data)
		err = elp_buf_puts(&man, "") < 0 ? -ENOMEM : 0;
	if (err)
		goto out;
	if (manifest_sha256 &&
	    elp_sha256_hex(man.data, man.len, manifest_sha256) < 0) {
		err = -ENOMEM;
		goto out;
	}
	a = archive_write_new();
	if (!a) {
		err = -ENOMEM;
		goto out;
	}
	/* ustar: no atime/ctime or user names; zstd: deterministic frames */
	if (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		err = archive_fail(ctx, a, "cannot write the bundle");
		goto out;
	}
	err = write_data(ctx, a, MANIFEST, man.data, man.len);
	for (i = 0; !err && i < b->nr; i++) {
		const struct elp_bundle_item *it = &b->items[i];

		err = it->path
			      ? write_file(ctx, a, it->name, it->path, sizes[i])
			      : write_data(ctx, a, it->name, it->data, it->len);
	}
	if (!err && archive_write_close(a) != ARCHIVE_OK)
		err = archive_fail(ctx, a, "cannot write the bundle");
out:
	if (a)
		archive_write_free(a);
	free(sizes);
	elp_buf_free(&man);
	return err;
}

/* ---- reading ------------------------------------------------------------ */

struct seen {
	char *name;
	char sha[ELP_SHA256_HEX_LEN + 1];
	int64_t size;
	bool listed;
};

struct reader {
	struct elp_ctx *ctx;
	const char *what;
	struct archive *in, *out;
	struct seen *files;
	size_t nr_files, cap_files, nr_entries;
	uint64_t total;
	const struct elp_bundle_limits *lim;
};

static int reject(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reject(struct reader *r, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	elp_err(r->ctx, "%s rejected: %s", r->what, msg);
	free(msg);
	return -EBADMSG;
}

static void hex_of(const unsigned char *md, unsigned int n, char *out)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = '\0';
}

/* Copy one regular file's data to disk, hashing it and counting bytes. */
static int copy_entry(struct reader *r, struct seen *s)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	const void *buf;
	size_t len;
	la_int64_t off;
	int rc, err = 0;

	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	while ((rc = archive_read_data_block(r->in, &buf, &len, &off)) ==
	       ARCHIVE_OK) {
		r->total += len;
		s->size += (int64_t)len;
		if (r->total > r->lim->max_bytes) {
			err = reject(r, "more than %llu bytes of content",
				     (unsigned long long)r->lim->max_bytes);
			break;
		}
		EVP_DigestUpdate(md, buf, len);
		if (archive_write_data_block(r->out, buf, len, off) !=
		    ARCHIVE_OK) {
			err = archive_fail(r->ctx, r->out, "cannot extract");
			break;
		}
	}
	if (!err && rc != ARCHIVE_EOF)
		err = archive_fail(r->ctx, r->in, r->what);
	EVP_DigestFinal_ex(md, dig, &dlen);
	EVP_MD_CTX_free(md);
	hex_of(dig, dlen, s->sha);
	return err;
}

static int read_entry(struct reader *r, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	struct seen *ns;
	size_t i;
	int err;

	if (!name || !name_ok(name))
		return reject(r, "entry name '%s' is not a plain relative path",
			      name ? name : "");
	if (type != AE_IFREG && type != AE_IFDIR)
		return reject(r, "'%s' is neither a file nor a directory",
			      name);
	if (archive_entry_hardlink(e) || archive_entry_symlink(e))
		return reject(r, "'%s' is a link", name);
	if (++r->nr_entries > r->lim->max_entries)
		return reject(r, "more than %zu entries", r->lim->max_entries);
	if (archive_entry_size_is_set(e) &&
	    (uint64_t)archive_entry_size(e) > r->lim->max_bytes - r->total)
		return reject(r, "'%s' is larger than the size limit", name);
	for (i = 0; i < r->nr_files; i++)
		if (strcmp(r->files[i].name, name) == 0)
			return reject(r, "'%s' appears twice", name);
	/* ours, not the peer's: owner, mode and time */
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(r->out, e) != ARCHIVE_OK)
		return archive_fail(r->ctx, r->out, "cannot extract");
	if (type == AE_IFDIR)
		return 0;
	ns = elp_grow(r->files, &r->cap_files, r->nr_files + 1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	r->files = ns;
	ns += r->nr_files;
	memset(ns, 0, sizeof(*ns));
	ns->name = strdup(name);
	if (!ns->name)
		return -ENOMEM;
	r->nr_files++;
	err = copy_entry(r, ns);
	if (!err && archive_write_finish_entry(r->out) != ARCHIVE_OK)
		err = archive_fail(r->ctx, r->out, "cannot extract");
	return err;
}

/* Every file listed with its sha256 and size, every line a file. */
static int check_manifest(struct reader *r, const char *dir,
			  char manifest_sha256[ELP_SHA256_HEX_LEN + 1])
{
	char *text = NULL, *line, *save = NULL, *path = NULL;
	size_t i, len = 0;
	int err;

	for (i = 0; i < r->nr_files; i++)
		if (strcmp(r->files[i].name, MANIFEST) == 0)
			break;
	if (i == r->nr_files)
		return reject(r, "no MANIFEST");
	r->files[i].listed = true;
	if (asprintf(&path, "%s/%s", dir, MANIFEST) < 0)
		return -ENOMEM;
	err = elp_read_file(r->ctx, path, &text, &len);
	free(path);
	if (err)
		return err;
	if (manifest_sha256 && elp_sha256_hex(text, len, manifest_sha256) < 0)
		err = -ENOMEM;
	for (line = strtok_r(text, "\n", &save); !err && line;
	     line = strtok_r(NULL, "\n", &save)) {
		char sha[ELP_SHA256_HEX_LEN + 1], name[256];
		long long size;

		if (sscanf(line, "%64s %lld %255s", sha, &size, name) != 3) {
			err = reject(r, "bad MANIFEST line '%s'", line);
			break;
		}
		for (i = 0; i < r->nr_files; i++)
			if (strcmp(r->files[i].name, name) == 0)
				break;
		if (i == r->nr_files || r->files[i].listed) {
			err = reject(
				r,
				"'%s' is in the MANIFEST but not the bundle (or twice)",
				name);
			break;
		}
		if (strcmp(r->files[i].sha, sha) != 0 ||
		    r->files[i].size != size) {
			err = reject(r,
				     "'%s' does not match its MANIFEST sha256",
				     name);
			break;
		}
		r->files[i].listed = true;
	}
	for (i = 0; !err && i < r->nr_files; i++)
		if (!r->files[i].listed)
			err = reject(r, "'%s' is not in the MANIFEST",
				     r->files[i].name);
	free(text);
	return err;
}

int elp_bundle_extract(struct elp_ctx *ctx, int fd, const char *dir,
		       const struct elp_bundle_limits *limits, const char *what,
		       char manifest_sha256[ELP_SHA256_HEX_LEN + 1])
{
	struct reader r = { .ctx = ctx, .what = what, .lim = limits };
	struct archive_entry *e;
	int cwd = -1, rc, err;
	size_t i;

	err = elp_mkdir_p(ctx, dir, 0700);
	if (err)
		return err;
	/*
	 * libarchive's NOABSOLUTEPATHS judges the entry's own name, so names
	 * are extracted relative to dir: the working directory is dir while
	 * extracting (not thread-safe) and restored after.
	 */
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || chdir(dir) < 0) {
		err = -errno;
		elp_err(ctx, "cannot enter '%s': %m", dir);
		if (cwd >= 0)
			close(cwd);
		return err;
	}
	r.in = archive_read_new();
	r.out = archive_write_disk_new();
	if (!r.in || !r.out) {
		err = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_zstd(r.in);
	archive_read_support_format_tar(r.in);
	archive_write_disk_set_options(
		r.out, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			       ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
			       ARCHIVE_EXTRACT_NO_OVERWRITE);
	if (archive_read_open_fd(r.in, fd, CHUNK) != ARCHIVE_OK) {
		err = archive_fail(ctx, r.in, what);
		goto out;
	}
	while (!err && (rc = archive_read_next_header(r.in, &e)) == ARCHIVE_OK)
		err = read_entry(&r, e);
	if (!err && rc != ARCHIVE_EOF)
		err = archive_fail(ctx, r.in, what);
	if (!err && archive_write_close(r.out) != ARCHIVE_OK)
		err = archive_fail(ctx, r.out, "cannot extract");
	if (!err)
		err = check_manifest(&r, ".", manifest_sha256);
out:
	if (fchdir(cwd) < 0 && !err)
		err = -errno;
	close(cwd);
	if (r.in)
		archive_read_free(r.in);
	if (r.out)
		archive_write_free(r.out);
	for (i = 0; i < r.nr_files; i++)
		free(r.files[i].name);
	free(r.files);
	if (err) {
		elp_rm_rf(ctx, dir);
		/* a bundle that libarchive cannot read is a bad bundle too */
		if (err == -EIO || err == -EINVAL || err == -EEXIST ||
		    err == -ENOENT)
			err = -EBADMSG;
	}
	return err;
}
