// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the client and the builder say to each other, in the small:
 * records ("key value" lines, remote-internal.h), builder URLs and the
 * file names a builder is sent.  Shared by the client (remote*.c) and
 * the builder (builder.c), so that neither calls the other for them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote-internal.h"
#include "remote.h"

/* ---- records ------------------------------------------------------------ */

int elp_record_add(struct elp_buf *buf, const char *key, const char *value)
{
	size_t start;
	char *p;

	if (!value)
		return 0;
	start = buf->len + strlen(key) + 1;
	if (elp_buf_printf(buf, "%s %s\n", key, value) < 0)
		return -ENOMEM;
	for (p = buf->data + start; p < buf->data + buf->len - 1; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return 0;
}

int elp_record_parse(struct elp_ctx *ctx, const char *path, const char *what,
		     struct elp_record *rec)
{
	size_t cap_keys = 0, cap_values = 0;
	char *line, *next;
	int err;

	memset(rec, 0, sizeof(*rec));
	err = elp_read_file(ctx, path, &rec->text, NULL);
	if (err)
		return err;
	for (line = rec->text; line && *line; line = next) {
		char **nk, **nv, *sp;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sp = strchr(line, ' ');
		if (!sp || sp == line) {
			elp_err(ctx, "%s: bad line '%.60s'", what, line);
			elp_record_free(rec);
			return -EBADMSG;
		}
		*sp = '\0';
		nk = elp_grow(rec->keys, &cap_keys, rec->nr + 1, sizeof(*nk));
		if (nk)
			rec->keys = nk;
		nv = elp_grow(rec->values, &cap_values, rec->nr + 1,
			      sizeof(*nv));
		if (nv)
			rec->values = nv;
		if (!nk || !nv) {
			elp_record_free(rec);
			return -ENOMEM;
		}
		rec->keys[rec->nr] = line;
		rec->values[rec->nr++] = sp + 1;
	}
	return 0;
}

const char *elp_record_get(const struct elp_record *rec, const char *key)
{
	size_t i;

	for (i = 0; i < rec->nr; i++)
		if (strcmp(rec->keys[i], key) == 0)
			return rec->values[i];
	return NULL;
}

void elp_record_free(struct elp_record *rec)
{
	free(rec->text);
	free(rec->keys);
	free(rec->values);
	memset(rec, 0, sizeof(*rec));
}

/* ---- builder URLs -------------------------------------------------------- */

static bool all_of(const char *s, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr(set, s[i]) && !((s[i] >= 'a' && s[i] <= 'z') ||
					    (s[i] >= 'A' && s[i] <= 'Z') ||
					    (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

void elp_builder_url_free(struct elp_builder_url *u)
{
	if (!u)
		return;
	free(u->user);
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->name);
	free(u);
}

int elp_builder_url_parse(struct elp_ctx *ctx, const char *url,
			  struct elp_builder_url **out)
{
	const char *p = url, *at, *slash, *colon, *hend;
	struct elp_builder_url *u;

	*out = NULL;
	if (strncmp(p, "ssh://", 6) != 0)
		goto bad;
	p += 6;
	slash = strchr(p, '/');
	hend = slash ? slash : p + strlen(p);
	at = memchr(p, '@', (size_t)(hend - p));
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	if (at) {
		if (at == p || !all_of(p, (size_t)(at - p), "._-"))
			goto bad_free;
		u->user = strndup(p, (size_t)(at - p));
		p = at + 1;
	}
	colon = memchr(p, ':', (size_t)(hend - p));
	if (colon) {
		if (colon + 1 == hend ||
		    !all_of(colon + 1, (size_t)(hend - colon - 1), "") ||
		    strtol(colon + 1, NULL, 10) > 65535)
			goto bad_free;
		u->port = strndup(colon + 1, (size_t)(hend - colon - 1));
	}
	if (!colon)
		colon = hend;
	/* a host never starts with '-': ssh would read an option */
	if (colon == p || *p == '-' || !all_of(p, (size_t)(colon - p), ".-_"))
		goto bad_free;
	u->host = strndup(p, (size_t)(colon - p));
	if (slash && slash[1]) {
		if (!all_of(slash, strlen(slash), "/._+-"))
			goto bad_free;
		u->path = strdup(slash);
	}
	u->name = strndup(p, (size_t)(hend - p));
	if (!u->host || !u->name || (at && !u->user) ||
	    (u->port == NULL && colon != hend) ||
	    (slash && slash[1] && !u->path)) {
		elp_builder_url_free(u);
		return -ENOMEM;
	}
	*out = u;
	return 0;
bad_free:
	elp_builder_url_free(u);
bad:
	elp_err(ctx,
		"invalid builder '%s': expected ssh://[user@]host[:port][/path/to/elivepatch]",
		url);
	return -EINVAL;
}

/* [A-Za-z0-9._+-], not starting with '.' or '-': a file name on the builder */
char *elp_remote_wire_name(const char *name)
{
	char *w;
	size_t i;

	if (asprintf(&w, "%s%s", name[0] == '.' || name[0] == '-' ? "p" : "",
		     name) < 0)
		return NULL;
	for (i = 0; w[i]; i++)
		if (!all_of(w + i, 1, "._+-"))
			w[i] = '_';
	return w;
}
