/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ELP_UTIL_H
#define ELP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elp.h"

#define ELP_SHA256_HEX_LEN 64

/* Elements of an array (not a pointer: that does not compile). */
#define ARRAY_SIZE(a)                                                    \
	(sizeof(a) / sizeof((a)[0]) +                                    \
	 sizeof(struct {                                                 \
		 int not_an_array                                        \
		     : __builtin_types_compatible_p(__typeof__(a),       \
						    __typeof__(&(a)[0])) \
		       ? -1                                              \
		       : 1;                                              \
	 }) * 0)

/* s[0..n) is one or more decimal digits. */
bool elp_all_digits(const char *s, size_t n);
/* s starts with prefix. */
bool elp_starts_with(const char *s, const char *prefix);
/* qsort/bsearch comparison of two char * elements. */
int elp_cmp_str(const void *a, const void *b);

/*
 * Growable NUL-terminated byte buffer.  A failed append is remembered:
 * later appends do nothing and return the same error, so a writer may
 * append without checking each call and check elp_buf_error() once,
 * before the contents are used (a buffer with an error is incomplete).
 */
struct elp_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	int err; /* 0, or the first append's -errno */
};

int elp_buf_append(struct elp_buf *buf, const void *data, size_t len);
int elp_buf_puts(struct elp_buf *buf, const char *s);
int elp_buf_printf(struct elp_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* 0, or the -errno of the first append that failed. */
static inline int elp_buf_error(const struct elp_buf *buf)
{
	return buf->err;
}
/* Frees the data and forgets the error. */
void elp_buf_free(struct elp_buf *buf);

/* Whole file into a NUL-terminated buffer; logs "cannot read '%s': %m". */
int elp_read_file(struct elp_ctx *ctx, const char *path, char **data,
		  size_t *len);
/* Write via a temporary file and rename, so readers never see half a file. */
int elp_write_file_atomic(struct elp_ctx *ctx, const char *path,
			  const void *data, size_t len, int mode);
int elp_mkdir_p(struct elp_ctx *ctx, const char *path, int mode);
/*
 * As root, refuse (-EPERM, logged with the reason) a path that another user
 * could change: it or a directory above it owned by a user other than root,
 * or writable by every user (a sticky directory such as /tmp excepted).
 * What names it in the message ("catalogue", "cache"...).  A path that does
 * not exist yet is judged by the directories above it.  0 when not root.
 */
int elp_check_trusted(struct elp_ctx *ctx, const char *path, const char *what);
/* The same for a directory and everything in it (a kernel source). */
int elp_check_trusted_tree(struct elp_ctx *ctx, const char *path,
			   const char *what);
/*
 * A directory only its owner may enter: created 0700 whatever the umask
 * (with its missing parents), and, as root, checked by elp_check_trusted.
 */
int elp_private_dir(struct elp_ctx *ctx, const char *path, const char *what);
int elp_rm_rf(struct elp_ctx *ctx, const char *path);

int elp_sha256_hex(const void *data, size_t len,
		   char out[ELP_SHA256_HEX_LEN + 1]);
int elp_sha256_file(struct elp_ctx *ctx, const char *path,
		    char out[ELP_SHA256_HEX_LEN + 1]);

bool elp_is_dir(const char *path);
bool elp_is_file(const char *path);
/* Absolute, normalised path (realpath), or NULL with errno set. */
char *elp_abspath(const char *path);

/*
 * Run argv (no shell) in cwd.  stdout and stderr go to log_fd when >= 0,
 * else to /dev/null.  When out is non-NULL stdout is captured into it
 * instead.  Returns the exit status (>= 0; 128 + N for a signal N), or
 * -errno when it could not run: a program that cannot be executed (not
 * found, not executable) or a cwd that cannot be entered is reported
 * through a close-on-exec pipe (as git's run-command does), so it is
 * never confused with a program that exits 127.
 */
int elp_run(struct elp_ctx *ctx, const char *const argv[], const char *cwd,
	    int log_fd, struct elp_buf *out);

/* Milliseconds from a monotonic clock, for stage timings. */
long long elp_now_ms(void);

/*
 * Is pid still the process that recorded itself at since (seconds since
 * the epoch; 0: unknown) as running a build or a job?  It must exist, run
 * the same program as this process (/proc/PID/comm) and, with since, have
 * started by then: a recycled pid is another program or a newer process.
 * Without /proc only kill(pid, 0) can tell.
 */
bool elp_process_alive(int64_t pid, int64_t since);

/*
 * Room for need elements of elem bytes in the array ptr of *cap: ptr when
 * it has it, else the array reallocated to twice the capacity (at least 16
 * elements, at least need) and *cap updated; NULL (ptr untouched, still
 * the caller's) when out of memory.
 */
void *elp_grow(void *ptr, size_t *cap, size_t need, size_t elem);

/* Arrays of n strings (char **v): free each and v. */
void elp_strv_free(char **v, size_t n);
/* Append a copy of s (-EINVAL when s is NULL, -ENOMEM). */
int elp_strv_push(char ***v, size_t *n, const char *s);
/* Append a copy of s unless v already holds it. */
int elp_strv_add_unique(char ***v, size_t *n, const char *s);
bool elp_strv_has(char *const *v, size_t n, const char *s);

/*
 * A set of strings (open addressing, FNV-1a): copies of them, or the
 * strings themselves with borrow set (they must outlive the set).  Its
 * members are the non-NULL slot[0..cap).
 */
struct elp_strset {
	char **slot;
	size_t cap, n;
	bool borrow;
};
/* 1: added, 0: there already, -ENOMEM */
int elp_strset_add(struct elp_strset *set, const char *s);
bool elp_strset_has(const struct elp_strset *set, const char *s);
/* Is s[0..len) a member? */
bool elp_strset_has_n(const struct elp_strset *set, const char *s, size_t len);
void elp_strset_free(struct elp_strset *set);

/*
 * A hash index over entries added in order (0, 1, ...) by name (FNV-1a):
 * the entries of a name are found newest first with
 *	for (i = elp_hindex_first(ix, name, len); i != ELP_HINDEX_END;
 *	     i = elp_hindex_next(ix, i))
 *		if (the name of entry i is name) ...
 * (other names that hash alike come too: compare).
 */
#define ELP_HINDEX_END ((size_t)-1)
struct elp_hindex {
	size_t *head; /* of each bucket's chain */
	size_t nbuckets; /* a power of two */
	size_t *next; /* per entry */
	uint64_t *hash; /* per entry, for growing */
	size_t nr, cap;
};
uint64_t elp_fnv1a(const void *data, size_t len);
/* Entry ix->nr, named name[0..len).  0 or -ENOMEM. */
int elp_hindex_add(struct elp_hindex *ix, const char *name, size_t len);
size_t elp_hindex_first(const struct elp_hindex *ix, const char *name,
			size_t len);
size_t elp_hindex_next(const struct elp_hindex *ix, size_t i);
void elp_hindex_free(struct elp_hindex *ix);

/* Trim trailing whitespace in place; returns s. */
char *elp_rstrip(char *s);

#endif
