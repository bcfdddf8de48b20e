// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Work directories of remote builds that survive their owner's kill -9.
 *
 * PARENT/PREFIX-XXXXXX is owned by whoever holds an flock on
 * PARENT/PREFIX-XXXXXX.lock (opened close-on-exec, so a compiler left
 * running does not keep it).  The kernel drops the lock when its owner
 * dies however it dies, so "the lock can be taken" means "the owner is
 * gone", which a reused pid cannot fake.  The lock file also names the
 * owner's pid, for people.
 *
 * The lock file is made before its directory and removed after it: a
 * directory without a lock file belongs to nobody.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote-internal.h"

/* Does fd still name the file at path (a reaper may have unlinked it)? */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int elp_lockfile_take(struct elp_ctx *ctx, const char *lock, bool try_excl,
		      int *lock_fd)
{
	int tries;

	*lock_fd = -1;
	for (tries = 0; tries < 16; tries++) {
		int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			      0644);

		if (fd < 0) {
			int err = -errno;

			elp_err(ctx, "cannot open '%s': %m", lock);
			return err;
		}
		if (flock(fd, try_excl ? LOCK_EX | LOCK_NB : LOCK_SH) < 0) {
			int err = -errno;

			close(fd);
			if (err == -EWOULDBLOCK)
				return -EBUSY;
			elp_err(ctx, "cannot lock '%s': %s", lock,
				strerror(-err));
			return err;
		}
		/* unlinked by the one who held it before us: a new one */
		if (same_file(fd, lock)) {
			*lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	elp_err(ctx, "cannot lock '%s'", lock);
	return -EAGAIN;
}

int elp_workdir_create(struct elp_ctx *ctx, const char *parent,
		       const char *prefix, char **dir, int *lock_fd)
{
	int tries, err = 0;

	*dir = NULL;
	*lock_fd = -1;
	err = elp_mkdir_p(ctx, parent, 0755);
	if (err)
		return err;
	for (tries = 0; tries < 16; tries++) {
		char *lock = NULL, pid[32];
		int fd;

		if (asprintf(&lock, "%s/%s-XXXXXX.lock", parent, prefix) < 0)
			return -ENOMEM;
		fd = mkostemps(lock, 5, O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			elp_err(ctx, "cannot create a file in '%s': %m",
				parent);
			free(lock);
			return err;
		}
		if (flock(fd, LOCK_EX) < 0 || !same_file(fd, lock)) {
			/* a reaper took it for a dead one's: another name */
			close(fd);
			free(lock);
			continue;
		}
		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (write(fd, pid, strlen(pid)) < 0)
			elp_dbg(ctx, "cannot write '%s': %m", lock);
		lock[strlen(lock) - 5] = '\0';
		if (mkdir(lock, 0700) < 0) {
			err = -errno;
			elp_err(ctx, "cannot create '%s': %m", lock);
			strcat(lock, ".lock");
			unlink(lock);
			close(fd);
			free(lock);
			return err;
		}
		*dir = lock;
		*lock_fd = fd;
		return 0;
	}
	elp_err(ctx, "cannot create a work directory in '%s'", parent);
	return -EAGAIN;
}

void elp_workdir_remove(struct elp_ctx *ctx, char *dir, int lock_fd)
{
	char *lock;

	if (!dir)
		return;
	elp_rm_rf(ctx, dir);
	if (asprintf(&lock, "%s.lock", dir) > 0) {
		unlink(lock);
		free(lock);
	}
	if (lock_fd >= 0)
		close(lock_fd);
}

/* name is PREFIX-XXXXXX, with or without .lock: its directory, or NULL */
static char *dir_of(const char *parent, const char *prefix, const char *name)
{
	size_t np = strlen(prefix), n = strlen(name);
	char *dir;

	if (strncmp(name, prefix, np) != 0 || name[np] != '-')
		return NULL;
	if (n > 5 && strcmp(name + n - 5, ".lock") == 0)
		n -= 5;
	if (n != np + 7)
		return NULL;
	return asprintf(&dir, "%s/%.*s", parent, (int)n, name) < 0 ? NULL : dir;
}

/* One PREFIX-XXXXXX, when its owner is gone: 1 removed, 0 in use. */
static int reap_one(struct elp_ctx *ctx, char *dir)
{
	char *lock;
	int fd, removed = 0;

	if (asprintf(&lock, "%s.lock", dir) < 0)
		return -ENOMEM;
	fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* no lock file: nobody's (see the top); a lock file made
		 * since is someone's new directory of the same name */
		if (errno == ENOENT && elp_is_dir(dir) && !elp_is_file(lock)) {
			elp_rm_rf(ctx, dir);
			removed = 1;
		}
	} else if (flock(fd, LOCK_EX | LOCK_NB) == 0 && same_file(fd, lock)) {
		elp_rm_rf(ctx, dir);
		unlink(lock);
		removed = 1;
	}
	if (fd >= 0)
		close(fd);
	free(lock);
	return removed;
}

int elp_workdir_reap(struct elp_ctx *ctx, const char *parent,
		     const char *prefix)
{
	struct dirent *de;
	DIR *d = opendir(parent);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *dir = dir_of(parent, prefix, de->d_name);
		int r;

		/* a directory and its lock file both lead here: the
		 * second finds nothing left to do */
		if (!dir)
			continue;
		r = reap_one(ctx, dir);
		if (r > 0) {
			elp_info(ctx,
				 "removed '%s', left by a process that is gone",
				 dir);
			n++;
		}
		free(dir);
	}
	closedir(d);
	return n;
}
