// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel sources clients sent a builder, removed when unused.
 *
 *   <cache>/remote/sources/<sha256>/<name>  a source (builder.c), with a
 *                                           kernel "sent-KEY" registered
 *                                           for it, its kbuild dir in
 *                                           <cache>/remote/kernels/KEY
 *   <cache>/remote/sources/<sha256>.lock    a serve building with it holds
 *                                           a shared flock; the prune an
 *                                           exclusive one, not waiting
 *
 * A serve that uses a source marks it used (the directory's mtime); one not
 * used for the given days is removed, with its kernels' records and dirs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/build.h"
#include "kernel-add.h"
#include "kernel.h"
#include "remote-internal.h"
#include "remote.h"

int elp_source_hold(struct elp_ctx *ctx, const char *dir, int *lock_fd)
{
	char *lock;
	int err;

	if (asprintf(&lock, "%s.lock", dir) < 0)
		return -ENOMEM;
	err = elp_lockfile_take(ctx, lock, false, lock_fd);
	free(lock);
	if (!err && utimensat(AT_FDCWD, dir, NULL, 0) < 0 && errno != ENOENT)
		elp_dbg(ctx, "cannot mark '%s' used: %m", dir);
	return err;
}

/* The "sent-" kernels whose source is under prefix (DIR/). */
struct sent {
	const char *prefix;
	struct sent_kernel {
		char *name, *build_dir;
	} * k;
	size_t nr, cap;
};

static int collect_sent(const struct elp_kernel *k, void *data)
{
	struct sent *s = data;
	struct sent_kernel *n;

	if (!k->source || strncmp(k->name, "sent-", 5) != 0 ||
	    strncmp(k->source, s->prefix, strlen(s->prefix)) != 0)
		return 0;
	n = elp_grow(s->k, &s->cap, s->nr + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->k = n;
	n = &s->k[s->nr++];
	n->name = strdup(k->name);
	n->build_dir = k->build_dir ? strdup(k->build_dir) : NULL;
	return n->name && (n->build_dir || !k->build_dir) ? 0 : -ENOMEM;
}

static void sent_free(struct sent *s)
{
	while (s->nr--) {
		free(s->k[s->nr].name);
		free(s->k[s->nr].build_dir);
	}
	free(s->k);
}

/*
 * One source (held exclusively), its kernels' records first: a record
 * whose source is gone would be worse than files without a record.
 */
static int remove_source(struct elp_catalogue *cat, const char *cache,
			 const char *dir, const char *sha, long long days)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct sent s = { 0 };
	char *prefix = NULL, *kdirs = NULL;
	size_t i;
	int err;

	if (asprintf(&prefix, "%s/", dir) < 0 ||
	    asprintf(&kdirs, "%s/remote/kernels/", cache) < 0) {
		free(prefix);
		return -ENOMEM;
	}
	s.prefix = prefix;
	err = elp_kernel_foreach(cat, collect_sent, &s);
	for (i = 0; !err && i < s.nr; i++) {
		struct elp_kernel *k = NULL;
		int builds = 0;

		err = elp_kernel_find(cat, s.k[i].name, &k);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (!err)
			err = elp_kernel_delete(cat, k, true, &builds);
		elp_kernel_free(k);
		if (err) {
			elp_err(ctx, "cannot remove kernel '%s': %s",
				s.k[i].name, strerror(-err));
			break;
		}
		elp_info(ctx, "removed kernel '%s' (%d builds kept, detached)",
			 s.k[i].name, builds);
		/* only a dir this builder made for it */
		if (s.k[i].build_dir &&
		    strncmp(s.k[i].build_dir, kdirs, strlen(kdirs)) == 0)
			elp_rm_rf(ctx, s.k[i].build_dir);
	}
	if (!err)
		err = elp_rm_rf(ctx, dir);
	if (!err)
		elp_info(
			ctx,
			"removed the kernel source sent, %.12s, unused for %lld days",
			sha, days);
	sent_free(&s);
	free(prefix);
	free(kdirs);
	return err;
}

static bool is_sha(const char *name)
{
	return strlen(name) == ELP_SHA256_HEX_LEN &&
	       strspn(name, "0123456789abcdef") == ELP_SHA256_HEX_LEN;
}

int elp_builder_prune(struct elp_catalogue *cat, const char *cache_dir,
		      unsigned int days, unsigned int *removed)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	char *cache, *sources = NULL;
	struct dirent *de;
	time_t now = time(NULL);
	DIR *d = NULL;
	int err = 0;

	*removed = 0;
	cache = cache_dir ? strdup(cache_dir) : elp_build_default_cache(ctx);
	if (!cache || asprintf(&sources, "%s/remote/sources", cache) < 0) {
		free(cache);
		return -ENOMEM;
	}
	d = opendir(sources);
	if (!d && errno != ENOENT) {
		err = -errno;
		elp_err(ctx, "cannot open '%s': %m", sources);
	}
	while (d && (de = readdir(d))) {
		struct stat st;
		char *dir, *lock;
		int fd = -1, e;

		if (!is_sha(de->d_name))
			continue;
		if (asprintf(&dir, "%s/%s", sources, de->d_name) < 0) {
			err = -ENOMEM;
			break;
		}
		if (asprintf(&lock, "%s.lock", dir) < 0) {
			free(dir);
			err = -ENOMEM;
			break;
		}
		e = elp_lockfile_take(ctx, lock, true, &fd);
		if (e == -EBUSY)
			elp_dbg(ctx, "kernel source %.12s is in use: kept",
				de->d_name);
		/* used (or sent) since the list was read: too recent now */
		else if (!e && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
			 now - st.st_mtime >= (time_t)days * 86400) {
			e = remove_source(cat, cache, dir, de->d_name,
					  (long long)(now - st.st_mtime) /
						  86400);
			if (!e) {
				unlink(lock);
				(*removed)++;
			}
		}
		if (e && e != -EBUSY && !err)
			err = e;
		if (fd >= 0)
			close(fd);
		free(lock);
		free(dir);
	}
	if (d)
		closedir(d);
	free(sources);
	free(cache);
	return err;
}
