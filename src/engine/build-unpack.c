// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A kernel source tarball into a tree, whole or in part.  An xz tarball is
 * decoded by liblzma's multi-threaded decoder (the blocks of a tarball made
 * with xz -T are decoded in parallel) and fed to libarchive as a plain tar;
 * any other compression goes through libarchive's own filters.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-internal.h"

#define XZ_BUF_SIZE (1 << 20)

struct xz_reader {
	int fd;
	lzma_stream strm;
	uint8_t *in, *out;
	bool in_eof, done;
};

static const char *lzma_reason(lzma_ret r)
{
	switch (r) {
	case LZMA_MEM_ERROR:
	case LZMA_MEMLIMIT_ERROR:
		return "out of memory";
	case LZMA_FORMAT_ERROR:
		return "not in the xz format";
	case LZMA_OPTIONS_ERROR:
		return "unsupported xz options";
	case LZMA_DATA_ERROR:
	case LZMA_BUF_ERROR:
		return "the xz data is corrupt or truncated";
	default:
		return "xz decoding failed";
	}
}

static la_ssize_t xz_read(struct archive *a, void *data, const void **buf)
{
	struct xz_reader *x = data;

	x->strm.next_out = x->out;
	x->strm.avail_out = XZ_BUF_SIZE;
	while (!x->done && x->strm.avail_out == XZ_BUF_SIZE) {
		lzma_ret r;

		if (x->strm.avail_in == 0 && !x->in_eof) {
			ssize_t n = read(x->fd, x->in, XZ_BUF_SIZE);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				archive_set_error(a, errno, "%s",
						  strerror(errno));
				return -1;
			}
			x->in_eof = n == 0;
			x->strm.next_in = x->in;
			x->strm.avail_in = (size_t)n;
		}
		r = lzma_code(&x->strm, x->in_eof ? LZMA_FINISH : LZMA_RUN);
		if (r == LZMA_STREAM_END) {
			x->done = true;
		} else if (r != LZMA_OK) {
			archive_set_error(a, r == LZMA_MEM_ERROR ? ENOMEM : EIO,
					  "%s", lzma_reason(r));
			return -1;
		}
	}
	*buf = x->out;
	return (la_ssize_t)(XZ_BUF_SIZE - x->strm.avail_out);
}

static bool is_xz(int fd)
{
	static const unsigned char magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	unsigned char head[6];

	return pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	       memcmp(head, magic, sizeof(magic)) == 0;
}

/* The reader of tarball: our xz decoder for xz, else libarchive's. */
static int open_reader(struct elp_bstate *b, struct archive *in,
		       const char *tarball, struct xz_reader *x)
{
	lzma_mt mt = {
		.flags = LZMA_CONCATENATED,
		.timeout = 0,
		.memlimit_stop = UINT64_MAX,
	};
	uint64_t mem = lzma_physmem();
	lzma_ret r;

	/* a stop asked for before the open is not lost in an open that
	 * does not return (a FIFO, a hung network file system) */
	if (elp_bstate_cancelled(b))
		return -EINTR;
	x->fd = open(tarball, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0) {
		int err = -errno;

		elp_err(b->ctx, "cannot open '%s': %m", tarball);
		return err;
	}
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	if (!is_xz(x->fd)) {
		archive_read_support_filter_all(in);
		if (archive_read_open_fd(in, x->fd, XZ_BUF_SIZE) !=
		    ARCHIVE_OK) {
			elp_err(b->ctx, "cannot read '%s': %s", tarball,
				archive_error_string(in));
			return -EIO;
		}
		return 0;
	}
	mt.threads = lzma_cputhreads();
	if (mt.threads == 0)
		mt.threads = 1;
	/* beyond this, fewer threads: a quarter of the memory */
	mt.memlimit_threading = mem ? mem / 4 : (uint64_t)1 << 30;
	x->in = malloc(XZ_BUF_SIZE);
	x->out = malloc(XZ_BUF_SIZE);
	if (!x->in || !x->out)
		return -ENOMEM;
	r = lzma_stream_decoder_mt(&x->strm, &mt);
	if (r != LZMA_OK) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			lzma_reason(r));
		return r == LZMA_MEM_ERROR ? -ENOMEM : -EIO;
	}
	if (archive_read_open(in, x, NULL, xz_read, NULL) != ARCHIVE_OK) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			archive_error_string(in));
		return -EIO;
	}
	return 0;
}

static void close_reader(struct xz_reader *x)
{
	lzma_end(&x->strm);
	free(x->in);
	free(x->out);
	if (x->fd >= 0)
		close(x->fd);
}

/* The path below the tarball's top directory; NULL for the top itself. */
static const char *strip_top(const char *path)
{
	const char *slash;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	slash = strchr(path, '/');
	if (!slash || !slash[1])
		return NULL;
	return slash + 1;
}

/* Writes one entry under dest; -errno with the reason logged. */
static int write_entry(struct elp_bstate *b, struct archive *in,
		       struct archive *out, struct archive_entry *entry,
		       const char *rel, const char *tarball, const char *dest)
{
	const char *link = archive_entry_hardlink(entry);
	char *path = NULL, *lpath = NULL;
	const void *buf;
	size_t size;
	int64_t off;
	int r, err = 0;

	if (asprintf(&path, "%s/%s", dest, rel) < 0)
		return -ENOMEM;
	archive_entry_set_pathname(entry, path);
	if (link) {
		const char *lrel = strip_top(link);

		if (lrel && asprintf(&lpath, "%s/%s", dest, lrel) > 0)
			archive_entry_set_hardlink(entry, lpath);
	}
	r = archive_write_header(out, entry);
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		goto write_failed;
	while (archive_entry_size(entry) > 0 &&
	       (r = archive_read_data_block(in, &buf, &size, &off)) ==
		       ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
			goto write_failed;
	}
	if (r == ARCHIVE_FATAL || r == ARCHIVE_FAILED) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			archive_error_string(in));
		err = -EIO;
		goto out;
	}
	if (archive_write_finish_entry(out) != ARCHIVE_OK)
		goto write_failed;
	goto out;
write_failed:
	err = archive_errno(out) > 0 ? -archive_errno(out) : -EIO;
	elp_err(b->ctx, "cannot extract '%s': %s", path,
		archive_errno(out) > 0 ? strerror(archive_errno(out))
				       : archive_error_string(out));
out:
	free(path);
	free(lpath);
	return err;
}

int elp_unpack_tarball(struct elp_bstate *b, const char *tarball,
		       const char *dest, elp_unpack_want *want, void *data,
		       struct elp_buf *skipped)
{
	struct xz_reader x = { .fd = -1, .strm = LZMA_STREAM_INIT };
	struct archive *in, *out;
	struct archive_entry *entry;
	int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_NO_OVERWRITE;
	int r = ARCHIVE_OK, err = 0;
	size_t n = 0;

	/* into a tree in use (on demand: no skipped list), a file appears
	 * whole or not at all; a new tree is not used until prepared */
	if (want && !skipped)
		flags |= ARCHIVE_EXTRACT_SAFE_WRITES;
	in = archive_read_new();
	out = archive_write_disk_new();
	if (!in || !out) {
		err = -ENOMEM;
		goto out;
	}
	archive_write_disk_set_options(out, flags);
	err = open_reader(b, in, tarball, &x);
	if (err)
		goto out;
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		const char *rel = strip_top(archive_entry_pathname(entry));
		bool dir = archive_entry_filetype(entry) == AE_IFDIR;

		if (!rel)
			continue;
		n++;
		if (want && !dir && !want(rel, data)) {
			if (skipped &&
			    elp_buf_printf(skipped, "%s\n", rel) < 0) {
				err = -ENOMEM;
				break;
			}
			continue;
		}
		/* a directory already there is fine; its time is not ours */
		if (dir && want) {
			char *p;

			if (asprintf(&p, "%s/%s", dest, rel) < 0) {
				err = -ENOMEM;
				break;
			}
			err = elp_is_dir(p) ? 0 : elp_mkdir_p(b->ctx, p, 0755);
			free(p);
			if (err)
				break;
			continue;
		}
		err = write_entry(b, in, out, entry, rel, tarball, dest);
		if (err)
			break;
		if (elp_bstate_cancelled(b)) {
			err = -EINTR;
			break;
		}
	}
	if (!err && r != ARCHIVE_EOF) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			archive_error_string(in));
		err = -EIO;
	}
	if (!err && n == 0) {
		elp_err(b->ctx, "'%s' is empty", tarball);
		err = -EINVAL;
	}
out:
	if (out) {
		if (archive_write_close(out) != ARCHIVE_OK && !err) {
			elp_err(b->ctx, "cannot extract '%s' into '%s': %s",
				tarball, dest, archive_error_string(out));
			err = -EIO;
		}
		archive_write_free(out);
	}
	if (in)
		archive_read_free(in);
	close_reader(&x);
	return err;
}
