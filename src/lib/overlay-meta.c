// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays, the format: overlay names, versions and version ranges,
 * fix.conf, and which kernels a fix is for.  See overlay.h and
 * elivepatch-overlay(5).
 */

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay-internal.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

/* ---- names ---- */

bool elp_overlay_name_is_valid(const char *name)
{
	size_t i;

	if (!name || (!islower((unsigned char)name[0]) &&
		      !isdigit((unsigned char)name[0])))
		return false;
	for (i = 0; name[i]; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return i <= 64;
}

/* ---- versions ---- */

int elp_version_parse(const char *s, struct elp_version *v)
{
	int i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 3; i++) {
		char *end;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		v->v[i] = strtoul(s, &end, 10);
		if (errno)
			return -EINVAL;
		s = end;
		if (*s != '.' || !isdigit((unsigned char)s[1]))
			break;
		s++;
	}
	return 0;
}

int elp_version_cmp(const struct elp_version *a, const struct elp_version *b)
{
	int i;

	for (i = 0; i < 3; i++)
		if (a->v[i] != b->v[i])
			return a->v[i] < b->v[i] ? -1 : 1;
	return 0;
}

/* A version followed by blanks; advances *s past it. */
static int range_version(const char **s, struct elp_version *v)
{
	const char *p = *s;
	size_t n = strspn(p, "0123456789.");

	if (n == 0 || p[n - 1] == '.')
		return -EINVAL;
	if (elp_version_parse(p, v))
		return -EINVAL;
	*s = p + n + strspn(p + n, " \t");
	return 0;
}

/* "<" or "<="; advances *s past it and the blanks after. */
static int range_op(const char **s, bool *incl)
{
	const char *p = *s;

	if (*p != '<')
		return -EINVAL;
	p++;
	*incl = *p == '=';
	if (*incl)
		p++;
	*s = p + strspn(p, " \t");
	return 0;
}

int elp_version_range_parse(const char *text, struct elp_version_range *r)
{
	const char *s = text + strspn(text, " \t");

	memset(r, 0, sizeof(*r));
	if (!*s)
		return 0;
	if (isdigit((unsigned char)*s)) {
		if (range_version(&s, &r->lo) || range_op(&s, &r->lo_incl))
			return -EINVAL;
		r->has_lo = true;
	}
	if (*s != 'v' || (s[1] && !strchr(" \t<", s[1])))
		return -EINVAL;
	s++;
	s += strspn(s, " \t");
	if (*s) {
		if (range_op(&s, &r->hi_incl) || range_version(&s, &r->hi))
			return -EINVAL;
		r->has_hi = true;
	}
	if (*s || (!r->has_lo && !r->has_hi))
		return -EINVAL;
	return 0;
}

bool elp_version_in_range(const struct elp_version_range *r,
			  const struct elp_version *v)
{
	int c;

	if (r->has_lo) {
		c = elp_version_cmp(&r->lo, v);
		if (c > 0 || (c == 0 && !r->lo_incl))
			return false;
	}
	if (r->has_hi) {
		c = elp_version_cmp(v, &r->hi);
		if (c > 0 || (c == 0 && !r->hi_incl))
			return false;
	}
	return true;
}

/* ---- fix.conf ---- */

void elp_fix_free(struct elp_fix *fix)
{
	size_t i;

	if (!fix)
		return;
	free(fix->overlay);
	free(fix->name);
	free(fix->summary);
	free(fix->upstream);
	free(fix->versions);
	elp_strv_free(fix->cves, fix->nr_cves);
	elp_strv_free(fix->requires, fix->nr_requires);
	free(fix->commit_id);
	free(fix->state);
	for (i = 0; i < fix->nr_patches; i++) {
		free(fix->patches[i].name);
		free(fix->patches[i].path);
		free(fix->patches[i].commit_id);
		free(fix->patches[i].sha256);
	}
	free(fix->patches);
	memset(fix, 0, sizeof(*fix));
}

/* Words separated by blanks or commas, each checked by ok. */
int overlay_conf_words(char *value, char ***v, size_t *n,
		       bool (*ok)(const char *), const char **bad)
{
	char *save = NULL, *w;

	for (w = strtok_r(value, " \t,", &save); w;
	     w = strtok_r(NULL, " \t,", &save)) {
		if (ok && !ok(w)) {
			*bad = w;
			return -EINVAL;
		}
		if (elp_strv_push(v, n, w))
			return -ENOMEM;
	}
	return 0;
}

static bool is_upstream_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n >= 7 && n <= 64 && !s[n];
}

static bool is_requirement(const char *s)
{
	return *s && !strchr(s, ':');
}

static int conf_line(struct elp_ctx *ctx, const char *origin, int lineno,
		     char *key, char *value, struct elp_fix *fix)
{
	struct elp_version_range r;
	const char *bad = NULL;
	size_t i;
	int err;

	if (strcmp(key, "summary") == 0) {
		free(fix->summary);
		fix->summary = strdup(value);
		return fix->summary ? 0 : -ENOMEM;
	}
	if (strcmp(key, "cve") == 0) {
		err = overlay_conf_words(value, &fix->cves, &fix->nr_cves,
					 elp_cve_is_valid, &bad);
		if (err == -EINVAL)
			elp_err(ctx,
				"%s:%d: invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
				origin, lineno, bad);
		for (i = 0; !err && i < fix->nr_cves; i++) {
			char *c;

			for (c = fix->cves[i]; *c; c++)
				*c = (char)toupper((unsigned char)*c);
		}
		return err;
	}
	if (strcmp(key, "upstream") == 0) {
		if (!is_upstream_id(value)) {
			elp_err(ctx,
				"%s:%d: invalid upstream commit '%s' (expected a lowercase hex commit id)",
				origin, lineno, value);
			return -EINVAL;
		}
		free(fix->upstream);
		fix->upstream = strdup(value);
		return fix->upstream ? 0 : -ENOMEM;
	}
	if (strcmp(key, "versions") == 0) {
		if (elp_version_range_parse(value, &r)) {
			elp_err(ctx,
				"%s:%d: invalid version range '%s' (expected e.g. '6.1.150 <= v < 6.1.200')",
				origin, lineno, value);
			return -EINVAL;
		}
		free(fix->versions);
		fix->versions = strdup(value);
		return fix->versions ? 0 : -ENOMEM;
	}
	if (strcmp(key, "requires") == 0) {
		err = overlay_conf_words(value, &fix->requires,
					 &fix->nr_requires, is_requirement,
					 &bad);
		if (err == -EINVAL)
			elp_err(ctx,
				"%s:%d: invalid out-of-tree patch name '%s'",
				origin, lineno, bad);
		return err;
	}
	if (strcmp(key, "cumulative-only") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			elp_err(ctx,
				"%s:%d: cumulative-only is 'yes' or 'no', not '%s'",
				origin, lineno, value);
			return -EINVAL;
		}
		fix->cumulative_only = strcmp(value, "yes") == 0;
		return 0;
	}
	elp_err(ctx,
		"%s:%d: unknown key '%s' (summary, cve, upstream, versions, requires, cumulative-only)",
		origin, lineno, key);
	return -EINVAL;
}

int elp_fix_conf_parse(struct elp_ctx *ctx, const char *origin,
		       const char *text, struct elp_fix *fix)
{
	char *copy = strdup(text), *line, *save = NULL, *next;
	int lineno = 0, err = 0;

	if (!copy)
		return -ENOMEM;
	for (line = copy; line && !err; line = next) {
		char *eq, *key, *value;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line += strspn(line, " \t");
		elp_rstrip(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			elp_err(ctx, "%s:%d: expected 'key = value'", origin,
				lineno);
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		key = elp_rstrip(line);
		value = eq + 1 + strspn(eq + 1, " \t");
		err = conf_line(ctx, origin, lineno, key, value, fix);
	}
	(void)save;
	free(copy);
	if (!err && (!fix->summary || !*fix->summary)) {
		elp_err(ctx, "%s: no summary", origin);
		err = -EINVAL;
	}
	return err;
}

/* ---- which kernels a fix is for ---- */

static int makefile_version(struct elp_ctx *ctx, const char *path,
			    struct elp_version *v, int depth);

/*
 * A distribution's headers Makefile includes the common part's
 * ("include /usr/src/linux-headers-R-common/Makefile"): that file, else
 * the same directory name beside this one (a package unpacked elsewhere).
 */
static int included_version(struct elp_ctx *ctx, const char *path,
			    const char *inc, struct elp_version *v)
{
	char *d1 = strdup(inc), *d2 = strdup(path), *alt = NULL;
	int found = makefile_version(ctx, inc, v, 1);

	if (found == 0 && d1 && d2 &&
	    asprintf(&alt, "%s/../%s/Makefile", dirname(d2),
		     basename(dirname(d1))) >= 0)
		found = makefile_version(ctx, alt, v, 1);
	free(alt);
	free(d1);
	free(d2);
	return found;
}

/* VERSION/PATCHLEVEL/SUBLEVEL of a kernel Makefile; 1 found, 0 not. */
static int makefile_version(struct elp_ctx *ctx, const char *path,
			    struct elp_version *v, int depth)
{
	static const char *const keys[] = { "VERSION", "PATCHLEVEL",
					    "SUBLEVEL" };
	char *text = NULL, *line, *save = NULL;
	int found = 0, err, i;
	unsigned long n;
	char key[16];
	size_t len;

	if (!elp_is_file(path))
		return 0;
	err = elp_read_file(ctx, path, &text, &len);
	if (err)
		return err;
	memset(v, 0, sizeof(*v));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%15[A-Z] = %lu", key, &n) == 2) {
			for (i = 0; i < 3; i++)
				if (strcmp(key, keys[i]) == 0) {
					v->v[i] = n;
					found |= 1 << i;
				}
		} else if (!found && depth == 0 &&
			   strncmp(line, "include ", 8) == 0) {
			char *inc = elp_rstrip(line + 8);

			inc += strspn(inc, " \t");
			if (included_version(ctx, path, inc, v) == 1) {
				found = 3;
				break;
			}
		}
	}
	free(text);
	return (found & 3) == 3 ? 1 : 0;
}

int elp_kernel_version(struct elp_ctx *ctx, const struct elp_kernel *k,
		       struct elp_version *v, const char **from, char **why)
{
	const char *dirs[2];
	size_t i;

	dirs[0] = k->source_kind && strcmp(k->source_kind, "dir") == 0
			  ? k->source
			  : NULL;
	dirs[1] = k->build_dir;
	for (i = 0; i < 2; i++) {
		char *mk;
		int found;

		if (!dirs[i])
			continue;
		mk = overlay_path_join(dirs[i], "Makefile");
		if (!mk)
			return -ENOMEM;
		found = makefile_version(ctx, mk, v, 0);
		free(mk);
		if (found == 1) {
			*from = i == 0 ? "the source's Makefile"
				       : "the build directory's Makefile";
			return 0;
		}
	}
	if (k->release && elp_version_parse(k->release, v) == 0) {
		*from = "the release";
		return 0;
	}
	if (!why)
		elp_err(ctx,
			"kernel '%s': no version in its Makefile or release",
			k->name);
	else if (asprintf(why,
			  "kernel '%s': no version in its Makefile or release",
			  k->name) < 0)
		*why = NULL;
	return -EINVAL;
}

int elp_fix_applies(struct elp_catalogue *cat, const struct elp_fix *fix,
		    const struct elp_kernel *k, const struct elp_version *v,
		    char **reason)
{
	struct elp_version_range r;
	size_t i;
	int err;

	*reason = NULL;
	if (fix->versions && elp_version_range_parse(fix->versions, &r) == 0 &&
	    !elp_version_in_range(&r, v)) {
		if (asprintf(reason, "version %lu.%lu.%lu is not in '%s'",
			     v->v[0], v->v[1], v->v[2], fix->versions) < 0)
			return -ENOMEM;
		return 0;
	}
	for (i = 0; i < fix->nr_requires; i++) {
		err = elp_kernel_has_patch(cat, k->id, fix->requires[i]);
		if (err < 0)
			return err;
		if (err == 0) {
			if (asprintf(
				    reason,
				    "needs the out-of-tree patch '%s', which the kernel was not built with",
				    fix->requires[i]) < 0)
				return -ENOMEM;
			return 0;
		}
	}
	return 1;
}
