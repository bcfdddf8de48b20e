// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers the build-*.c files share, and the build results of build.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/builds.h"
#include "../lib/sandbox.h"
#include "../lib/toolchain.h"
#include "build-internal.h"

/* ---- small helpers shared by the build-*.c files ----------------------- */

int elp_bstate_refuse(struct elp_bstate *b, const char *fmt, ...)
{
	va_list args;
	char *msg = NULL;

	va_start(args, fmt);
	if (vasprintf(&msg, fmt, args) < 0)
		msg = NULL;
	va_end(args);
	if (!b->refusal) {
		b->refusal = msg;
		elp_err(b->ctx, "%s", msg ? msg : "refused");
	} else {
		free(msg);
	}
	return -ENOTSUP;
}

bool elp_bconfig_on(const struct elp_bstate *b, const char *option)
{
	const char *config = b->kernel->config;
	char *v = config ? elp_config_get(config, option) : NULL;
	bool on = v && strcmp(v, "y") == 0;

	free(v);
	return on;
}

bool elp_bstate_cancelled(const struct elp_bstate *b)
{
	return b->opts->cancel && *b->opts->cancel;
}

int elp_bcopy_file(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int err;

	err = elp_read_file(ctx, from, &data, &len);
	if (err)
		return err;
	if (stat(from, &st) < 0)
		st.st_mode = 0644;
	err = elp_write_file_atomic(ctx, to, data, len,
				    (int)(st.st_mode & 0777));
	free(data);
	return err;
}

/* The first compiler/make error written to the log since offset off. */
/* The first line of the log from off holding one of marks, or NULL. */
static char *first_line_with(const char *data, off_t off,
			     const char *const *marks)
{
	size_t i;

	for (i = 0; marks[i]; i++) {
		const char *hit = strstr(data + off, marks[i]), *start, *end;

		if (!hit)
			continue;
		for (start = hit; start > data + off && start[-1] != '\n';
		     start--)
			;
		end = strchr(hit, '\n');
		return end ? strndup(start, (size_t)(end - start))
			   : strdup(start);
	}
	return NULL;
}

static char *log_first_error(struct elp_bstate *b, off_t off)
{
	static const char *const marks[] = { ": error: ", ": fatal error: ",
					     "*** No rule", "ERROR: ", NULL };
	/* what a step the sandbox stopped says */
	static const char *const sandbox_marks[] = {
		"Read-only file system", "Network is unreachable",
		"Connection refused", "Temporary failure in name resolution",
		NULL
	};
	char *data = NULL, *found = NULL, *line;

	if (!b->res->log_path ||
	    elp_read_file(NULL, b->res->log_path, &data, NULL) < 0)
		return NULL;
	if ((size_t)off > strlen(data))
		off = 0;
	line = b->opts->sandbox ? first_line_with(data, off, sandbox_marks)
				: NULL;
	if (line &&
	    asprintf(
		    &found,
		    "the sandbox stopped a step that writes outside the build or uses the network: %s",
		    line) < 0)
		found = NULL;
	free(line);
	if (!found)
		found = first_line_with(data, off, marks);
	free(data);
	return found;
}

/*
 * The prepare step of kbuild (modules_prepare, and each object made in the
 * tree) builds resolve_btfids, and libbpf with it, a third of a cold
 * build's CPU, when CONFIG_DEBUG_INFO_BTF is set.  A module link only runs it
 * to add BTF against vmlinux, and skips that without vmlinux: in a prepared
 * tree without vmlinux, make is told not to build it (-o).  A source dir
 * built in place keeps its vmlinux and its resolve_btfids.
 */
static bool btfids_unused(const struct elp_bstate *b, const char *dir)
{
	char path[PATH_MAX];

	if (!b->tree || strcmp(dir, b->tree) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	return access(path, F_OK) != 0;
}

void elp_blog_argv(struct elp_bstate *b, const char *const *argv)
{
	struct elp_buf line = { 0 };
	size_t i;

	if (b->log_fd < 0)
		return;
	elp_buf_puts(&line, "$");
	for (i = 0; argv[i]; i++)
		elp_buf_printf(&line, " %s", argv[i]);
	elp_buf_puts(&line, "\n");
	if (line.data && write(b->log_fd, line.data, line.len) < 0)
		elp_dbg(b->ctx, "cannot write the build log");
	elp_buf_free(&line);
}

int elp_brun(struct elp_bstate *b, const char *const *argv, const char *cwd)
{
	const char *writable[2], **wrapped;
	char *tmp = NULL;
	size_t n = 0;
	int rc;

	if (!b->opts->sandbox)
		return elp_run(b->ctx, argv, cwd, b->log_fd, NULL);
	if (b->tree_root)
		writable[n++] = b->tree_root;
	if (b->workdir)
		writable[n++] = b->workdir;
	if (n == 0 || asprintf(&tmp, "%s/tmp",
			       b->workdir ? b->workdir : b->tree_root) < 0)
		return -ENOMEM;
	rc = elp_mkdir_p(b->ctx, tmp, 0700);
	wrapped = rc ? NULL
		     : elp_sandbox_argv(b->ctx, argv, writable, n, tmp, cwd);
	if (wrapped && b->log_fd >= 0)
		dprintf(b->log_fd,
			"# in a sandbox (%s): no network, writable only %s%s%s\n",
			wrapped[0], writable[0], n > 1 ? " and " : "",
			n > 1 ? writable[1] : "");
	if (wrapped)
		rc = elp_run(b->ctx, wrapped, cwd, b->log_fd, NULL);
	else if (!rc)
		rc = -ENOMEM;
	free(wrapped);
	free(tmp);
	return rc;
}

static int bmake(struct elp_bstate *b, const char *dir,
		 const char *const *targets, size_t nr_targets, bool kcflags,
		 const char *what, bool quiet)
{
	char *first;
	off_t off;
	const char *argv[64];
	char jobs[32], cc[512];
	size_t n = 0, i;
	int rc;

	if (elp_bstate_cancelled(b))
		return -EINTR;
	if (nr_targets > 50)
		return -E2BIG;
	snprintf(jobs, sizeof(jobs), "-j%u", b->jobs);
	snprintf(cc, sizeof(cc), "CC=%s", b->cc);
	argv[n++] = "make";
	argv[n++] = "-C";
	argv[n++] = dir;
	argv[n++] = jobs;
	argv[n++] = cc;
	if (kcflags)
		argv[n++] = "KCFLAGS=" ELP_BUILD_KCFLAGS;
	if (btfids_unused(b, dir)) {
		argv[n++] = "-o";
		argv[n++] = "tools/bpf/resolve_btfids";
	}
	for (i = 0; i < nr_targets; i++)
		argv[n++] = targets[i];
	argv[n] = NULL;
	elp_blog_argv(b, argv);
	off = b->log_fd >= 0 ? lseek(b->log_fd, 0, SEEK_CUR) : -1;
	rc = elp_brun(b, argv, NULL);
	if (rc == 0)
		return 0;
	if (elp_bstate_cancelled(b))
		return -EINTR;
	if (rc < 0) {
		elp_err(b->ctx, "cannot run make: %s", strerror(-rc));
		return rc;
	}
	if (quiet)
		return -EIO;
	first = off >= 0 ? log_first_error(b, off) : NULL;
	if (what)
		elp_err(b->ctx, "%s failed%s%s", what, first ? ": " : "",
			first ? first : "");
	else
		elp_err(b->ctx, "make %s failed%s%s",
			nr_targets ? targets[nr_targets - 1] : "",
			first ? ": " : "", first ? first : "");
	free(first);
	return -EIO;
}

int elp_bmake(struct elp_bstate *b, const char *dir, const char *const *targets,
	      size_t nr_targets, bool kcflags, const char *what)
{
	return bmake(b, dir, targets, nr_targets, kcflags, what, false);
}

int elp_bmake_try(struct elp_bstate *b, const char *dir,
		  const char *const *targets, size_t nr_targets, bool kcflags)
{
	return bmake(b, dir, targets, nr_targets, kcflags, NULL, true);
}

/* ---- results ------------------------------------------------------------ */

void elp_build_result_free(struct elp_build_result *r)
{
	size_t i;

	if (!r)
		return;
	free(r->reason);
	free(r->module_name);
	free(r->inputs_sha256);
	free(r->kernel_release);
	free(r->artefact_path);
	free(r->artefact_sha256);
	free(r->output_path);
	free(r->log_path);
	free(r->compiler);
	for (i = 0; i < r->nr_funcs; i++) {
		free(r->funcs[i].object);
		free(r->funcs[i].old_name);
		free(r->funcs[i].source_file);
	}
	free(r->funcs);
	free(r);
}

char *elp_build_module_name(const char *patch_name)
{
	char *name = malloc(56);
	const char *s = patch_name ? patch_name : "patch";
	size_t n, len = strlen(s);

	if (!name)
		return NULL;
	/* "fix.patch" and "fix.diff" name the same fix as "fix" */
	if (len > 6 && strcmp(s + len - 6, ".patch") == 0)
		len -= 6;
	else if (len > 5 && strcmp(s + len - 5, ".diff") == 0)
		len -= 5;
	strcpy(name, "elp_");
	n = 4;
	for (; len && n < 55; s++, len--) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '_';
		if (c == '_' && name[n - 1] == '_')
			continue;
		name[n++] = c;
	}
	while (n > 4 && name[n - 1] == '_')
		n--;
	name[n] = '\0';
	/* nothing usable left: "elp_patch" */
	if (n == 4)
		strcpy(name, "elp_patch");
	return name;
}

char *elp_build_default_cache(const struct elp_ctx *ctx)
{
	const char *set = elp_get(ctx, ELP_SET_CACHE_DIR);
	struct passwd *pw;
	char *p;

	if (set)
		return strdup(set);
	if (geteuid() == 0)
		return strdup("/var/cache/elivepatch");
	pw = getpwuid(geteuid());
	return asprintf(&p, "%s/.cache/elivepatch",
			pw && pw->pw_dir ? pw->pw_dir : "/tmp") < 0
		       ? NULL
		       : p;
}
