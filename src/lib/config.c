// SPDX-License-Identifier: GPL-2.0-or-later
/* The elivepatch.conf parser: key = value lines, # comments, nothing else. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

enum value_type { PATH, NAME, YES_NO, DAYS, WORDS, URLS };

struct key {
	const char *name;
	enum value_type type;
	size_t offset; /* of the char * in struct elp_conf */
};

#define FIELD(f) offsetof(struct elp_conf, f)

static const struct key keys[] = {
	{ "catalogue", PATH, FIELD(catalogue) },
	{ "cache-dir", PATH, FIELD(cache_dir) },
	{ "datadir", PATH, FIELD(datadir) },
	{ "signing-key", PATH, FIELD(signing_key) },
	{ "signing-cert", PATH, FIELD(signing_cert) },
	{ "patch-overlay", NAME, FIELD(patch_overlay) },
	{ "builders", URLS, FIELD(builders) },
	{ "auto-apply", YES_NO, FIELD(auto_apply) },
	{ "sandbox", YES_NO, FIELD(sandbox) },
	{ "builder-keep-sources", DAYS, FIELD(builder_keep_sources) },
};

#define NR_KEYS ARRAY_SIZE(keys)

static const struct key *find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NR_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return elp_rstrip(s);
}

/* Normalise a value in place; NULL (reason in *why) when it is invalid. */
static const char *check_value(const struct key *k, char *value,
			       const char **why)
{
	char *p, *q;

	switch (k->type) {
	case PATH:
		if (value[0] != '/') {
			*why = "must be an absolute path";
			return NULL;
		}
		return value;
	case NAME:
		if (!*value || strpbrk(value, " \t/")) {
			*why = "must be one repository name";
			return NULL;
		}
		return value;
	case YES_NO:
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			*why = "must be 'yes' or 'no'";
			return NULL;
		}
		return value;
	case DAYS:
		/* at most 99999 days (about 270 years) */
		if (!*value || strlen(value) > 5 ||
		    strspn(value, "0123456789") != strlen(value)) {
			*why = "must be a number of days (0 to 99999)";
			return NULL;
		}
		return value;
	case WORDS:
	case URLS:
		/* one space between words, so "a  b" and "a b" compare equal */
		for (p = q = value; *p; p++)
			if (!isspace((unsigned char)*p) ||
			    (q > value && !isspace((unsigned char)q[-1])))
				*q++ = isspace((unsigned char)*p) ? ' ' : *p;
		*q = '\0';
		elp_rstrip(value);
		for (p = value; k->type == URLS && p && *p;
		     p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL)
			if (strncmp(p, "ssh://", 6) != 0) {
				*why = "must be ssh://[user@]host[:port][/path] URLs";
				return NULL;
			}
		return value;
	}
	*why = "unknown type";
	return NULL;
}

static int parse_line(struct elp_ctx *ctx, const char *origin,
		      unsigned int lineno, char *line, struct elp_conf *conf,
		      unsigned int *seen)
{
	char *eq, *name, *value;
	const struct key *k;
	const char *why = NULL, *v;
	char **field;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq || eq == line) {
		elp_err(ctx, "%s:%u: expected 'key = value', got '%s'", origin,
			lineno, line);
		return -EINVAL;
	}
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	k = find_key(name);
	if (!k) {
		elp_err(ctx, "%s:%u: unknown key '%s'", origin, lineno, name);
		return -EINVAL;
	}
	if (seen[k - keys]) {
		elp_err(ctx, "%s:%u: '%s' is already set on line %u", origin,
			lineno, name, seen[k - keys]);
		return -EINVAL;
	}
	seen[k - keys] = lineno;
	v = check_value(k, value, &why);
	if (!v) {
		elp_err(ctx, "%s:%u: %s '%s' %s", origin, lineno, name, value,
			why);
		return -EINVAL;
	}
	field = (char **)((char *)conf + k->offset);
	*field = strdup(v);
	return *field ? 0 : -ENOMEM;
}

int elp_conf_parse(struct elp_ctx *ctx, const char *origin, const char *text,
		   struct elp_conf **out)
{
	unsigned int seen[NR_KEYS] = { 0 };
	unsigned int lineno = 0;
	struct elp_conf *conf;
	char *copy, *line, *next;
	int err = 0, e;

	*out = NULL;
	conf = calloc(1, sizeof(*conf));
	copy = strdup(text);
	if (!conf || !copy) {
		free(conf);
		free(copy);
		return -ENOMEM;
	}
	/* every bad line is reported, not only the first */
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		e = parse_line(ctx, origin, lineno, line, conf, seen);
		if (e == -ENOMEM) {
			err = e;
			break;
		}
		if (e && !err)
			err = e;
	}
	free(copy);
	if (err) {
		elp_conf_free(conf);
		return err;
	}
	*out = conf;
	return 0;
}

int elp_conf_load(struct elp_ctx *ctx, const char *path, bool optional,
		  struct elp_conf **out)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = elp_read_file(NULL, path, &text, &len);
	if (err == -ENOENT && optional) {
		*out = calloc(1, sizeof(**out));
		return *out ? 0 : -ENOMEM;
	}
	if (err) {
		elp_err(ctx, "cannot read configuration '%s': %s", path,
			strerror(-err));
		return err;
	}
	if (strlen(text) != len) {
		/* the parser would stop there: say so instead of ignoring */
		elp_err(ctx, "%s: binary data (NUL byte), not a configuration",
			path);
		free(text);
		return -EINVAL;
	}
	err = elp_conf_parse(ctx, path, text, out);
	free(text);
	if (!err) {
		(*out)->path = strdup(path);
		if (!(*out)->path) {
			elp_conf_free(*out);
			*out = NULL;
			err = -ENOMEM;
		}
	}
	return err;
}

void elp_conf_free(struct elp_conf *conf)
{
	if (!conf)
		return;
	free(conf->path);
	free(conf->catalogue);
	free(conf->cache_dir);
	free(conf->datadir);
	free(conf->signing_key);
	free(conf->signing_cert);
	free(conf->patch_overlay);
	free(conf->builders);
	free(conf->auto_apply);
	free(conf->sandbox);
	free(conf->builder_keep_sources);
	free(conf);
}

bool elp_conf_yes(const char *value)
{
	return value && strcmp(value, "yes") == 0;
}

unsigned int elp_conf_days(const char *value, unsigned int def)
{
	return value ? (unsigned int)strtoul(value, NULL, 10) : def;
}
