// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Applying a patch to a plain source tree: libgit2's git_apply_to_tree on an
 * in-memory repository holding only the files the patch touches, after the
 * hunks are located in the tree as patch(1) would.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "patch-internal.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* Applying to a plain tree                                            */

struct target {
	char *path; /* relative to the tree */
	bool existed;
	unsigned int git_mode; /* 0100644 or 0100755 */
	mode_t perm;
	char *data; /* preimage */
	size_t len;
	bool written;
};

struct apply {
	struct elp_ctx *ctx;
	const char *name;
	const char *tree;
	struct target *t;
	size_t nt, cap_t;
};

static void apply_free(struct apply *A)
{
	size_t i;

	for (i = 0; i < A->nt; i++) {
		free(A->t[i].path);
		free(A->t[i].data);
	}
	free(A->t);
}

static char *tree_path(const struct apply *A, const char *path)
{
	char *s;

	if (asprintf(&s, "%s/%s", A->tree, path) < 0)
		return NULL;
	return s;
}

static struct target *find_target(struct apply *A, const char *path)
{
	size_t i;

	for (i = 0; i < A->nt; i++)
		if (strcmp(A->t[i].path, path) == 0)
			return &A->t[i];
	return NULL;
}

/* Read path from the tree (when present) as a target; *out (when not NULL)
 * is set to it on success. */
static int add_target(struct apply *A, const char *path, bool must_exist,
		      bool must_not_exist, struct target **out)
{
	struct target *t = find_target(A, path);
	struct stat st;
	char *full;
	int err = 0;

	if (t) {
		if (out)
			*out = t;
		return 0;
	}
	if (!elp_patch_path_is_safe(path)) {
		elp_err(A->ctx, "patch '%s' does not apply: unsafe path '%s'",
			A->name, path);
		return -EINVAL;
	}
	t = elp_grow(A->t, &A->cap_t, A->nt + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	A->t = t;
	t = &A->t[A->nt];
	memset(t, 0, sizeof(*t));
	t->path = strdup(path);
	full = tree_path(A, path);
	if (!t->path || !full) {
		free(t->path);
		free(full);
		return -ENOMEM;
	}
	A->nt++;
	if (lstat(full, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			elp_err(A->ctx,
				"patch '%s' does not apply: %s: not a regular file",
				A->name, path);
			err = -EINVAL;
		} else if (must_not_exist) {
			elp_err(A->ctx,
				"patch '%s' does not apply: %s: already exists",
				A->name, path);
			err = -EEXIST;
		} else {
			t->existed = true;
			t->perm = st.st_mode & 07777;
			t->git_mode = st.st_mode & 0111 ? 0100755 : 0100644;
			err = elp_read_file(A->ctx, full, &t->data, &t->len);
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		err = -errno;
		elp_err(A->ctx, "cannot read '%s': %s", full, strerror(errno));
	} else if (must_exist) {
		elp_err(A->ctx, "patch '%s' does not apply: %s: no such file",
			A->name, path);
		err = -ENOENT;
	}
	free(full);
	if (!err && out)
		*out = t;
	return err;
}

/* Split a file into lines (without '\n') for hunk matching. */
static char **file_lines(const char *data, size_t len, size_t *n)
{
	size_t cap = 64, i = 0;
	const char *p = data, *end = data + len;
	char **v = malloc(cap * sizeof(*v));

	if (!v)
		return NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (i == cap) {
			char **nv = elp_grow(v, &cap, i + 1, sizeof(*v));

			if (!nv)
				goto fail;
			v = nv;
		}
		v[i] = strndup(p, l);
		if (!v[i])
			goto fail;
		i++;
		p += l + 1;
	}
	*n = i;
	return v;
fail:
	elp_strv_free(v, i);
	return NULL;
}

static bool hunk_matches_at(const struct parser *P, const struct phunk *h,
			    bool reverse, char **fl, size_t fn, size_t pos)
{
	char del = reverse ? '+' : '-';
	size_t k, at = pos;

	for (k = h->first; k < h->first + h->n; k++) {
		const char *l = P->lines[k];

		if (l[0] != ' ' && l[0] != '\0' && l[0] != del)
			continue;
		if (at >= fn || strcmp(fl[at], l[0] ? l + 1 : "") != 0)
			return false;
		at++;
	}
	return true;
}

/*
 * libgit2 1.5 applies a hunk only at the exact line its header names; like
 * patch(1) and git apply, look for the hunk's preimage nearby first and
 * rewrite the header to where it is.  Unmatched hunks are left alone for
 * libgit2 to refuse.
 */
static int locate_hunks(const struct parser *P, struct psection *s,
			bool reverse, const struct target *t)
{
	long offset = 0, growth = 0;
	size_t fn = 0, h;
	char **fl;

	fl = file_lines(t->data ? t->data : "", t->len, &fn);
	if (!fl)
		return -ENOMEM;
	for (h = 0; h < s->nhunks; h++) {
		struct phunk *hk = &s->hunks[h];
		int os = reverse ? hk->new_start : hk->old_start;
		int oc = reverse ? hk->new_count : hk->old_count;
		int nc = reverse ? hk->old_count : hk->new_count;
		long want, d, found = -1;

		if (oc == 0) {
			hk->adj_old = (int)(os + offset);
			hk->adj_new = (int)(os + offset + growth + 1);
			hk->adjusted = hk->adj_old >= 0;
			growth += nc - oc;
			continue;
		}
		want = os - 1 + offset;
		for (d = 0; d <= (long)fn; d++) {
			if (want - d >= 0 && want - d + oc <= (long)fn &&
			    hunk_matches_at(P, hk, reverse, fl, fn,
					    (size_t)(want - d))) {
				found = want - d;
				break;
			}
			if (d && want + d >= 0 && want + d + oc <= (long)fn &&
			    hunk_matches_at(P, hk, reverse, fl, fn,
					    (size_t)(want + d))) {
				found = want + d;
				break;
			}
			if (want - d < 0 && want + d + oc > (long)fn)
				break;
		}
		if (found >= 0) {
			hk->adj_old = (int)found + 1;
			hk->adj_new = (int)(found + growth + 1);
			hk->adjusted = true;
			offset = found - (os - 1);
		}
		growth += nc - oc;
	}
	elp_strv_free(fl, fn);
	return 0;
}

/* A file the patch deletes must hold exactly what the patch removes. */
static bool deletion_matches(const struct parser *P, const struct psection *s,
			     bool reverse, const struct target *t)
{
	struct elp_buf want = { 0 };
	char del = reverse ? '+' : '-';
	bool prev = false, same;
	size_t h, k;

	for (h = 0; h < s->nhunks; h++) {
		for (k = s->hunks[h].first;
		     k < s->hunks[h].first + s->hunks[h].n; k++) {
			const char *l = P->lines[k];

			if (l[0] == '\\') {
				if (prev && want.len)
					want.data[--want.len] = '\0';
				continue;
			}
			prev = l[0] == del || l[0] == ' ' || l[0] == '\0';
			if (prev && (elp_buf_puts(&want, l[0] ? l + 1 : "") ||
				     elp_buf_puts(&want, "\n"))) {
				elp_buf_free(&want);
				return false;
			}
		}
	}
	same = want.len == t->len &&
	       (!want.len || memcmp(want.data, t->data, want.len) == 0);
	elp_buf_free(&want);
	return same;
}

static int mem_repo(struct elp_ctx *ctx, git_repository **out)
{
	git_odb_backend *mempack = NULL;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	int rc;

	elp_git_init_memory();
	rc = git_odb_new(&odb);
	if (!rc)
		rc = git_mempack_new(&mempack);
	if (!rc) {
		rc = git_odb_add_backend(odb, mempack, 1);
		if (rc)
			mempack->free(mempack);
	}
	if (!rc)
		rc = git_repository_new(&repo);
	if (!rc)
		rc = git_repository_set_odb(repo, odb);
	git_odb_free(odb);
	if (rc) {
		git_repository_free(repo);
		return elp_git_fail(ctx, rc, NULL, 0,
				    "cannot create an in-memory repository");
	}
	*out = repo;
	return 0;
}

struct apply_pos {
	int delta, hunk;
};

static int on_delta(const git_diff_delta *delta, void *payload)
{
	struct apply_pos *pos = payload;

	(void)delta;
	pos->delta++;
	pos->hunk = -1;
	return 0;
}

static int on_hunk(const git_diff_hunk *hunk, void *payload)
{
	struct apply_pos *pos = payload;

	(void)hunk;
	pos->hunk++;
	return 0;
}

static int build_preimage(struct apply *A, git_repository *repo,
			  git_tree **tree)
{
	git_index *index = NULL;
	git_oid oid;
	size_t i;
	int rc;

	rc = git_index_new(&index);
	for (i = 0; i < A->nt && !rc; i++) {
		git_index_entry entry;

		if (!A->t[i].existed)
			continue;
		memset(&entry, 0, sizeof(entry));
		entry.path = A->t[i].path;
		entry.mode = A->t[i].git_mode;
		rc = git_blob_create_from_buffer(&entry.id, repo, A->t[i].data,
						 A->t[i].len);
		if (!rc)
			rc = git_index_add(index, &entry);
	}
	if (!rc)
		rc = git_index_write_tree_to(&oid, index, repo);
	if (!rc)
		rc = git_tree_lookup(tree, repo, &oid);
	git_index_free(index);
	if (rc)
		return elp_git_fail(
			A->ctx, rc, NULL, 0,
			"patch '%s': cannot stage the files it touches",
			A->name);
	return 0;
}

static void remove_empty_parents(const struct apply *A, const char *path)
{
	char *full = tree_path(A, path), *slash;
	size_t root = strlen(A->tree);

	if (!full)
		return;
	while ((slash = strrchr(full, '/')) != NULL &&
	       (size_t)(slash - full) > root) {
		*slash = '\0';
		if (rmdir(full) < 0)
			break;
	}
	free(full);
}

static int make_parents(struct apply *A, const char *full)
{
	char *dir = strdup(full);
	int err = 0;

	if (!dir)
		return -ENOMEM;
	if (!elp_is_dir(dirname(dir))) {
		free(dir);
		dir = strdup(full);
		if (!dir)
			return -ENOMEM;
		err = elp_mkdir_p(A->ctx, dirname(dir), 0755);
	}
	free(dir);
	return err;
}

static int write_target(struct apply *A, struct target *t, const void *data,
			size_t len, unsigned int git_mode, bool exists)
{
	char *full = tree_path(A, t->path);
	int err = 0;

	if (!full)
		return -ENOMEM;
	if (!exists) {
		if (unlink(full) < 0 && errno != ENOENT) {
			err = -errno;
			elp_err(A->ctx, "cannot remove '%s': %s", full,
				strerror(errno));
		} else {
			remove_empty_parents(A, t->path);
		}
	} else {
		mode_t perm = git_mode == 0100755 ? 0777 : 0666;

		if (t->existed) {
			perm = t->perm;
			if (git_mode == 0100755)
				perm |= (perm & 0444) >> 2;
			else
				perm &= (mode_t)~0111;
		}
		err = make_parents(A, full);
		if (!err)
			err = elp_write_file_atomic(A->ctx, full, data, len,
						    (int)perm);
		if (!err && t->existed && chmod(full, perm) < 0) {
			err = -errno;
			elp_err(A->ctx, "cannot chmod '%s': %s", full,
				strerror(errno));
		}
	}
	free(full);
	return err;
}

/* Write the postimage of every target; on failure put the preimage back. */
static int write_back(struct apply *A, git_repository *repo, git_index *post)
{
	size_t i;
	int err = 0;

	for (i = 0; i < A->nt && !err; i++) {
		struct target *t = &A->t[i];
		const git_index_entry *e =
			git_index_get_bypath(post, t->path, 0);
		git_blob *blob = NULL;
		int rc;

		if (!e && !t->existed)
			continue;
		if (e) {
			rc = git_blob_lookup(&blob, repo, &e->id);
			if (rc) {
				err = elp_git_fail(A->ctx, rc, NULL, 0,
						   "patch '%s': %s", A->name,
						   t->path);
				break;
			}
			if (t->existed && e->mode == t->git_mode &&
			    git_blob_rawsize(blob) == t->len &&
			    memcmp(git_blob_rawcontent(blob), t->data,
				   t->len) == 0) {
				git_blob_free(blob);
				continue;
			}
			t->written = true;
			err = write_target(A, t, git_blob_rawcontent(blob),
					   (size_t)git_blob_rawsize(blob),
					   e->mode, true);
			git_blob_free(blob);
		} else {
			t->written = true;
			err = write_target(A, t, NULL, 0, 0, false);
		}
	}
	if (err) {
		while (i-- > 0) {
			struct target *t = &A->t[i];

			if (t->written)
				write_target(A, t, t->data, t->len, t->git_mode,
					     t->existed);
		}
	}
	return err;
}

static int apply_failed(struct apply *A, const struct parser *P,
			const struct apply_pos *pos, git_diff *diff, int rc)
{
	const git_diff_delta *d = NULL;
	const char *file = "?";

	if (pos->delta >= 0 && (size_t)pos->delta < git_diff_num_deltas(diff)) {
		d = git_diff_get_delta(diff, (size_t)pos->delta);
		file = d->status == GIT_DELTA_DELETED ? d->old_file.path
						      : d->new_file.path;
	}
	if (d && pos->hunk >= 0 && (size_t)pos->delta < P->nsecs &&
	    (size_t)pos->hunk < P->secs[pos->delta].nhunks) {
		const struct phunk *h = &P->secs[pos->delta].hunks[pos->hunk];

		return elp_git_fail(
			A->ctx, rc, NULL, 0,
			"patch '%s' does not apply: %s: %s (line %zu)", A->name,
			file, P->lines[h->header], h->header + 1);
	}
	return elp_git_fail(A->ctx, rc, NULL, 0,
			    "patch '%s' does not apply: %s", A->name, file);
}

int elp_patch_apply(struct elp_ctx *ctx, const char *tree_dir,
		    const struct elp_patch *p, bool reverse)
{
	git_apply_options opts;
	struct apply A = { .ctx = ctx,
			   .name = p->name ? p->name : "?",
			   .tree = tree_dir };
	struct apply_pos pos = { -1, -1 };
	git_repository *repo = NULL;
	git_index *post = NULL;
	git_diff *diff = NULL;
	git_tree *tree = NULL;
	struct emit e = { 0 };
	struct parser P;
	size_t i;
	int err, rc;

	if (!elp_is_dir(tree_dir)) {
		elp_err(ctx, "cannot apply patch '%s': '%s' is not a directory",
			A.name, tree_dir);
		return -ENOTDIR;
	}
	err = elp_parser_run(&P, ctx, p->origin ? p->origin : A.name,
			     p->content, p->content ? strlen(p->content) : 0);
	if (err)
		goto out;
	for (i = 0; i < P.nsecs && reverse; i++) {
		const struct psection *s = &P.secs[i];
		const char *why = s->binary	     ? "a binary change"
				  : s->status == 'C' ? "a copy"
				  : s->quoted	     ? "a quoted file name"
						     : NULL;

		if (why) {
			elp_err(ctx,
				"patch '%s' cannot be reverse-applied: %s has %s",
				A.name, s->new_path ? s->new_path : "a file",
				why);
			err = -ENOTSUP;
			goto out;
		}
	}
	/* which files: ask libgit2, it knows quoted names too */
	err = elp_emit_all(&P, reverse, &e);
	if (!err)
		err = elp_emit_diff(ctx, P.origin, &e, &diff);
	if (err)
		goto out;
	if (git_diff_num_deltas(diff) != P.nsecs) {
		elp_err(ctx,
			"patch '%s': %zu file sections but libgit2 sees %zu",
			A.name, P.nsecs, git_diff_num_deltas(diff));
		err = -EBADMSG;
		goto out;
	}
	for (i = 0; i < P.nsecs && !err; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		struct target *t = NULL;

		if (d->status != GIT_DELTA_ADDED) {
			bool seen = find_target(&A, d->old_file.path) != NULL;

			err = add_target(&A, d->old_file.path, true, false, &t);
			if (!err && !seen && !t->existed) {
				elp_err(ctx,
					"patch '%s' does not apply: %s: no such file",
					A.name, d->old_file.path);
				err = -ENOENT;
			}
			if (err)
				break;
			if (d->status == GIT_DELTA_DELETED &&
			    !deletion_matches(&P, &P.secs[i], reverse, t)) {
				elp_err(ctx,
					"patch '%s' does not apply: %s: the file to delete differs from the patch",
					A.name, d->old_file.path);
				err = -EINVAL;
				break;
			}
			if (!seen && P.secs[i].nhunks)
				err = locate_hunks(&P, &P.secs[i], reverse, t);
		}
		if (!err && d->status != GIT_DELTA_DELETED &&
		    strcmp(d->new_file.path, d->old_file.path) != 0)
			err = add_target(&A, d->new_file.path, false, true,
					 NULL);
		else if (!err && d->status == GIT_DELTA_ADDED)
			err = add_target(&A, d->new_file.path, false, true,
					 NULL);
	}
	if (err)
		goto out;

	/* again, with the hunks where they are in this tree */
	git_diff_free(diff);
	diff = NULL;
	elp_emit_free(&e);
	err = elp_emit_all(&P, reverse, &e);
	if (!err)
		err = elp_emit_diff(ctx, P.origin, &e, &diff);
	if (!err)
		err = mem_repo(ctx, &repo);
	if (!err)
		err = build_preimage(&A, repo, &tree);
	if (err)
		goto out;
	git_apply_options_init(&opts, GIT_APPLY_OPTIONS_VERSION);
	opts.delta_cb = on_delta;
	opts.hunk_cb = on_hunk;
	opts.payload = &pos;
	rc = git_apply_to_tree(&post, repo, tree, diff, &opts);
	if (rc) {
		err = apply_failed(&A, &P, &pos, diff, rc);
		goto out;
	}
	err = write_back(&A, repo, post);
out:
	git_index_free(post);
	git_tree_free(tree);
	git_repository_free(repo);
	git_diff_free(diff);
	elp_emit_free(&e);
	elp_parser_free(&P);
	apply_free(&A);
	return err;
}
