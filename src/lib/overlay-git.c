// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays, the git side: cloning, fetching and fast-forwarding
 * with libgit2, and signature checks with gpgv.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "git.h"
#include "overlay-internal.h"
#include "overlay.h"
#include "util.h"

char *overlay_oid_hex(const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), oid);
	return strdup(hex);
}

/* ---- signatures ---- */

/* The first "[GNUPG:] WORD ..." of gpgv's status output we know. */
static const char *gpgv_reason(const char *status)
{
	static const struct {
		const char *word, *reason;
	} words[] = {
		{ "BADSIG", "bad signature" },
		{ "NO_PUBKEY", "not signed by the trusted key" },
		{ "EXPKEYSIG", "signed by an expired key" },
		{ "REVKEYSIG", "signed by a revoked key" },
		{ "ERRSIG", "the signature cannot be checked" },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char pat[48];

		snprintf(pat, sizeof(pat), "[GNUPG:] %s ", words[i].word);
		if (status && strstr(status, pat))
			return words[i].reason;
	}
	return "gpgv does not accept the signature";
}

/*
 * Check one commit's OpenPGP signature against keyring with gpgv:
 * 0 good, -EPERM (logged with the reason) otherwise.
 */
static int verify_commit(struct elp_ctx *ctx, git_repository *repo,
			 const git_oid *oid, const char *keyring,
			 const char *overlay)
{
	git_buf sig = { 0 }, data = { 0 };
	char dir[] = "/tmp/elivepatch-gpgv.XXXXXX", hex[GIT_OID_HEXSZ + 1];
	char *sig_path = NULL, *data_path = NULL;
	struct elp_buf status = { 0 };
	const char *tmp = getenv("TMPDIR");
	char *tdir = NULL;
	int rc, err;

	git_oid_tostr(hex, sizeof(hex), oid);
	rc = git_commit_extract_signature(&sig, &data, repo, (git_oid *)oid,
					  NULL);
	if (rc == GIT_ENOTFOUND) {
		elp_err(ctx, "overlay '%s': commit %.12s is not signed",
			overlay, hex);
		return -EPERM;
	}
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': commit %.12s",
				     overlay, hex);
	if (tmp && *tmp &&
	    asprintf(&tdir, "%s/elivepatch-gpgv.XXXXXX", tmp) < 0)
		tdir = NULL;
	if (!mkdtemp(tdir ? tdir : dir)) {
		elp_err(ctx, "cannot create a temporary directory: %s",
			strerror(errno));
		err = -errno;
		goto out;
	}
	sig_path = overlay_path_join(tdir ? tdir : dir, "sig.asc");
	data_path = overlay_path_join(tdir ? tdir : dir, "commit");
	err = !sig_path || !data_path ? -ENOMEM : 0;
	if (!err)
		err = elp_write_file_atomic(ctx, sig_path, sig.ptr, sig.size,
					    0600);
	if (!err)
		err = elp_write_file_atomic(ctx, data_path, data.ptr, data.size,
					    0600);
	if (!err) {
		const char *argv[] = {
			"gpgv",	       "--homedir", tdir ? tdir : dir,
			"--status-fd", "1",	    "--keyring",
			keyring,       sig_path,    data_path,
			NULL
		};

		rc = elp_run(ctx, argv, NULL, -1, &status);
		if (rc < 0) {
			elp_err(ctx, "cannot run gpgv: %s", strerror(-rc));
			err = rc;
		} else if (rc != 0 || !status.data ||
			   !strstr(status.data, "[GNUPG:] VALIDSIG ")) {
			elp_err(ctx, "overlay '%s': commit %.12s refused: %s",
				overlay, hex, gpgv_reason(status.data));
			err = -EPERM;
		}
	}
	elp_rm_rf(ctx, tdir ? tdir : dir);
out:
	elp_buf_free(&status);
	free(sig_path);
	free(data_path);
	free(tdir);
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	return err;
}

/* Every commit reachable from tip and not from base (NULL: tip only). */
int overlay_verify_commits(struct elp_ctx *ctx, git_repository *repo,
			   const git_oid *tip, const git_oid *base,
			   const char *keyring, const char *overlay)
{
	git_revwalk *walk = NULL;
	git_oid oid;
	int rc, err = 0;

	if (!base)
		return verify_commit(ctx, repo, tip, keyring, overlay);
	rc = git_revwalk_new(&walk, repo);
	if (rc == 0)
		rc = git_revwalk_push(walk, tip);
	if (rc == 0)
		rc = git_revwalk_hide(walk, base);
	if (rc < 0) {
		git_revwalk_free(walk);
		return elp_git_error(ctx, rc, "overlay '%s': history", overlay);
	}
	while (!err && (rc = git_revwalk_next(&oid, walk)) == 0)
		err = verify_commit(ctx, repo, &oid, keyring, overlay);
	if (!err && rc != GIT_ITEROVER)
		err = elp_git_error(ctx, rc, "overlay '%s': history", overlay);
	git_revwalk_free(walk);
	return err;
}

/* A local path is cloned by its absolute path; URLs as given. */
int overlay_clone_url(struct elp_ctx *ctx, const char *url, char **out)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	if (strstr(url, "://") || (colon && (!slash || colon < slash)))
		*out = strdup(url);
	else if (!(*out = elp_abspath(url)) && errno != ENOMEM) {
		elp_err(ctx, "cannot clone '%s': %s", url, strerror(errno));
		return -errno;
	}
	return *out ? 0 : -ENOMEM;
}

int overlay_copy_keyring(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data;
	size_t len;
	int err;

	err = elp_read_file(ctx, from, &data, &len);
	if (err)
		return err;
	err = elp_write_file_atomic(ctx, to, data, len, 0644);
	free(data);
	return err;
}

int overlay_head_oid(struct elp_ctx *ctx, git_repository *repo,
		     const char *name, git_oid *oid)
{
	int rc = git_reference_name_to_id(oid, repo, "HEAD");

	return rc < 0 ? elp_git_error(ctx, rc, "overlay '%s': HEAD", name) : 0;
}

/* Fetch origin; the upstream of HEAD's branch after it. */
int overlay_fetch_tip(struct elp_ctx *ctx, git_repository *repo,
		      const char *name, git_reference **branch, git_oid *tip)
{
	git_remote *remote = NULL;
	git_reference *up = NULL;
	int rc;

	rc = git_remote_lookup(&remote, repo, "origin");
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': remote", name);
	rc = git_remote_fetch(remote, NULL, NULL, "elivepatch: overlay sync");
	git_remote_free(remote);
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': cannot fetch",
				     name);
	rc = git_repository_head(branch, repo);
	if (rc == 0)
		rc = git_branch_upstream(&up, *branch);
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': upstream branch",
				     name);
	git_oid_cpy(tip, git_reference_target(up));
	git_reference_free(up);
	return 0;
}

/* Check out tip and move the branch to it. */
int overlay_move_to(struct elp_ctx *ctx, git_repository *repo,
		    git_reference *branch, const git_oid *tip, const char *name)
{
	git_checkout_options co;
	git_reference *moved = NULL;
	git_commit *commit = NULL;
	int rc;

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy =
		GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	rc = git_commit_lookup(&commit, repo, tip);
	if (rc == 0)
		rc = git_checkout_tree(repo, (git_object *)commit, &co);
	if (rc == 0)
		rc = git_reference_set_target(&moved, branch, tip,
					      "elivepatch: overlay sync");
	git_reference_free(moved);
	git_commit_free(commit);
	return rc < 0 ? elp_git_error(ctx, rc, "overlay '%s': cannot check out",
				      name)
		      : 0;
}
