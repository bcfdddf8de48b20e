// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Who includes a changed header: an index of the tree's #include lines
 * (made once per prepared tree, with grep), every file that includes a
 * header directly or not, the .c files other files #include (part of
 * their includer's unit), and which files include it as the compiler sees
 * them with this config (kbuild preprocesses them).
 *
 * Apart from build-scope.c, which decides with the answers, because this
 * reads the whole tree and runs grep and make for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-scope-internal.h"

/* <tree_root>/include-index: "./path:#include <name>" lines, made once. */
int elp_scope_include_index(struct elp_bstate *b, char **data)
{
	char *path = NULL, *tmp = NULL;
	int err, fd;

	if (asprintf(&path, "%s/include-index", b->tree_root) < 0)
		return -ENOMEM;
	if (elp_is_file(path)) {
		err = elp_read_file(b->ctx, path, data, NULL);
		free(path);
		return err;
	}
	elp_notice(b->ctx, "[scope] indexing the tree's #include lines");
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		free(path);
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		elp_err(b->ctx, "cannot create '%s': %m", tmp);
		goto out;
	}
	{
		const char *argv[] = {
			"grep",
			"-rEo",
			"--include=*.c",
			"--include=*.h",
			"^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"][^>\"]+[>\"]",
			".",
			NULL
		};

		err = elp_run(b->ctx, argv, b->tree, fd, NULL);
	}
	close(fd);
	if (err != 0) {
		elp_err(b->ctx, "cannot index the #include lines of '%s'",
			b->tree);
		err = -EIO;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto out;
	}
	err = elp_read_file(b->ctx, path, data, NULL);
out:
	if (err)
		unlink(tmp);
	free(tmp);
	free(path);
	return err;
}

/* dir + "/" + name with "./" and "../" resolved, into buf. */
static bool join_path(char *buf, size_t size, const char *dir, size_t dlen,
		      const char *name, size_t nlen)
{
	size_t n = 0;
	const char *p = name, *end = name + nlen;

	if (dlen + nlen + 2 > size)
		return false;
	memcpy(buf, dir, dlen);
	n = dlen;
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t l = s ? (size_t)(s - p) : (size_t)(end - p);

		if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && buf[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (!(l == 1 && p[0] == '.') && l) {
			if (n)
				buf[n++] = '/';
			memcpy(buf + n, p, l);
			n += l;
		}
		p += l + 1;
	}
	buf[n] = '\0';
	return true;
}

/* Does the include line name a file in set? */
static bool include_hits(const struct elp_strset *set,
			 const struct elp_strset *bases, const char *from,
			 size_t from_len, const char *name, size_t nlen,
			 bool quoted)
{
	static const char *const dirs[] = { "include", "arch/x86/include",
					    "include/uapi",
					    "arch/x86/include/uapi" };
	const char *base = name + nlen;
	char path[4096];
	size_t i;

	while (base > name && base[-1] != '/')
		base--;
	if (!elp_strset_has_n(bases, base, (size_t)(name + nlen - base)))
		return false;
	if (quoted) {
		const char *slash = from + from_len;

		while (slash > from && slash[-1] != '/')
			slash--;
		if (join_path(path, sizeof(path), from,
			      slash > from ? (size_t)(slash - from - 1) : 0,
			      name, nlen) &&
		    elp_strset_has(set, path))
			return true;
	}
	for (i = 0; i < ARRAY_SIZE(dirs); i++)
		if (join_path(path, sizeof(path), dirs[i], strlen(dirs[i]),
			      name, nlen) &&
		    elp_strset_has(set, path))
			return true;
	return false;
}

static int add_base(struct elp_strset *bases, const char *path)
{
	const char *s = strrchr(path, '/');

	return elp_strset_add(bases, s ? s + 1 : path);
}

/* Every file including one of the seeds (in closure), directly or not. */
int elp_scope_includers(const char *index, struct elp_strset *closure)
{
	struct elp_strset bases = { 0 };
	size_t i;
	bool grew = true;
	int err = 0;

	for (i = 0; !err && i < closure->cap; i++)
		if (closure->slot[i])
			err = add_base(&bases, closure->slot[i]);
	err = err < 0 ? err : 0;
	while (!err && grew) {
		const char *line = index;

		grew = false;
		while (line && *line && !err) {
			const char *end = strchrnul(line, '\n');
			const char *from = line, *colon, *open, *close;
			size_t flen;

			if (from[0] == '.' && from[1] == '/')
				from += 2;
			colon = memchr(from, ':', (size_t)(end - from));
			open = colon ? strpbrk(colon, "<\"") : NULL;
			if (!open || open > end)
				goto next;
			close = memchr(open + 1, *open == '<' ? '>' : '"',
				       (size_t)(end - open - 1));
			flen = (size_t)(colon - from);
			if (!close ||
			    (flen > 6 &&
			     (strncmp(from, "tools/", 6) == 0 ||
			      strncmp(from, "Documentation/", 14) == 0 ||
			      strncmp(from, "samples/", 8) == 0)))
				goto next;
			if (include_hits(closure, &bases, from, flen, open + 1,
					 (size_t)(close - open - 1),
					 *open == '"')) {
				char *f = strndup(from, flen);
				int r = f ? elp_strset_add(closure, f)
					  : -ENOMEM;

				if (r > 0) {
					grew = true;
					r = add_base(&bases, f);
				}
				free(f);
				if (r < 0)
					err = r;
			}
		next:
			line = *end ? end + 1 : NULL;
		}
	}
	elp_strset_free(&bases);
	return err;
}

/* "from\tincluded" for every #include "x.c": those .c files are part of
 * their includer's translation unit (kernel/sched/build_utility.c). */
int elp_scope_included_c_files(const char *index, struct elp_buf *out)
{
	const char *line = index;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');
		const char *from = line, *colon, *open, *close;
		char path[4096];

		if (from[0] == '.' && from[1] == '/')
			from += 2;
		colon = memchr(from, ':', (size_t)(end - from));
		open = colon ? memchr(colon, '"', (size_t)(end - colon)) : NULL;
		close = open ? memchr(open + 1, '"', (size_t)(end - open - 1))
			     : NULL;
		if (close && close - open > 3 && close[-2] == '.' &&
		    close[-1] == 'c') {
			const char *slash = colon;

			while (slash > from && slash[-1] != '/')
				slash--;
			if (join_path(path, sizeof(path), from,
				      slash > from ? (size_t)(slash - from - 1)
						   : 0,
				      open + 1, (size_t)(close - open - 1)))
				elp_buf_printf(out, "%.*s\t%s\n",
					       (int)(colon - from), from, path);
		}
		line = *end ? end + 1 : NULL;
	}
	return 0;
}

bool elp_scope_deps_name(const char *cmd, char *const *headers, size_t n)
{
	const char *p = cmd;

	while (*p) {
		const char *s;
		size_t i, len;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
			p++;
		s = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' &&
		       *p != '\\')
			p++;
		len = (size_t)(p - s);
		for (i = 0; i < n; i++) {
			size_t hl = strlen(headers[i]);

			if (len >= hl &&
			    !strncmp(s + len - hl, headers[i], hl) &&
			    (len == hl || s[len - hl - 1] == '/'))
				return true;
		}
	}
	return false;
}

/* "dir/x.c" -> "dir/x.i" and "dir/.x.i.cmd", or -ENOMEM */
static int preprocessed_names(const char *f, char **i_name, char **cmd)
{
	const char *base = strrchr(f, '/');
	int dlen = base ? (int)(base - f + 1) : 0;

	base = base ? base + 1 : f;
	*i_name = NULL;
	*cmd = NULL;
	if (asprintf(i_name, "%.*si", (int)strlen(f) - 1, f) < 0) {
		*i_name = NULL;
		return -ENOMEM;
	}
	if (asprintf(cmd, "%.*s.%.*si.cmd", dlen, f, (int)strlen(base) - 1,
		     base) < 0) {
		free(*i_name);
		*i_name = NULL;
		*cmd = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Keep of files (.c, built with this config) those that include one of the
 * changed headers as the compiler sees them with this config: kbuild
 * preprocesses each (make dir/x.i, like the build's own compiles) and its
 * dependency list (dir/.x.i.cmd, from fixdep) names every header read.
 * The .i and .cmd files are removed again.  A file kbuild cannot
 * preprocess is kept.
 */
/* make -k dir/x.i for the m files; drop[k]: file k does not include */
static int preprocess_batch(struct elp_bstate *b, char **files, size_t m,
			    bool *drop)
{
	const char *argv[64];
	char jobs[32], cc[512];
	char *names[40] = { NULL };
	size_t k, a = 0;
	int err = 0;

	snprintf(jobs, sizeof(jobs), "-j%u", b->jobs);
	snprintf(cc, sizeof(cc), "CC=%s", b->cc);
	argv[a++] = "make";
	argv[a++] = "-k";
	argv[a++] = "-s";
	argv[a++] = jobs;
	argv[a++] = cc;
	for (k = 0; k < m; k++) {
		char *cmd = NULL;

		if (preprocessed_names(files[k], &names[k], &cmd)) {
			err = -ENOMEM;
			goto out;
		}
		free(cmd);
		argv[a++] = names[k];
	}
	argv[a] = NULL;
	if (elp_bstate_cancelled(b)) {
		err = -EINTR;
		goto out;
	}
	elp_blog_argv(b, argv);
	/* a file that does not preprocess is kept: the status is not used */
	err = elp_brun(b, argv, b->tree);
	err = err < 0 ? err : 0;
	for (k = 0; !err && k < m; k++) {
		char *i_name = NULL, *cmd = NULL, *text = NULL;
		char *i_path = NULL, *cmd_path = NULL;

		if (preprocessed_names(files[k], &i_name, &cmd) ||
		    asprintf(&i_path, "%s/%s", b->tree, i_name) < 0 ||
		    asprintf(&cmd_path, "%s/%s", b->tree, cmd) < 0) {
			i_path = cmd_path = NULL;
			err = -ENOMEM;
		} else if (elp_read_file(NULL, cmd_path, &text, NULL) == 0) {
			drop[k] = !elp_scope_deps_name(text, b->headers,
						       b->nr_headers);
			if (drop[k])
				elp_dbg(b->ctx,
					"[scope] %s does not include %s with this config",
					files[k], b->headers[0]);
		} else {
			elp_dbg(b->ctx,
				"[scope] %s: no dependency list from kbuild, counted as including",
				files[k]);
		}
		if (i_path)
			unlink(i_path);
		if (cmd_path)
			unlink(cmd_path);
		free(text);
		free(i_path);
		free(cmd_path);
		free(i_name);
		free(cmd);
	}
out:
	for (k = 0; k < m; k++)
		free(names[k]);
	return err;
}

int elp_scope_compiler_includers(struct elp_bstate *b, char **files, size_t *n)
{
	bool *drop = calloc(*n ? *n : 1, sizeof(*drop));
	size_t i, kept = 0;
	int err = 0;

	if (!drop)
		return -ENOMEM;
	if (*n)
		elp_notice(
			b->ctx,
			"[scope] asking the compiler which of %zu files include %s",
			*n, b->nr_headers == 1 ? b->headers[0] : "the headers");
	for (i = 0; !err && i < *n; i += 40) {
		size_t m = *n - i < 40 ? *n - i : 40;

		err = preprocess_batch(b, files + i, m, drop + i);
	}
	for (i = 0; i < *n; i++) {
		if (drop[i])
			free(files[i]);
		else
			files[kept++] = files[i];
	}
	*n = kept;
	free(drop);
	return err;
}
