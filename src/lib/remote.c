// SPDX-License-Identifier: GPL-2.0-or-later
/* The client's side of a remote build: a bundle to `ssh HOST elivepatch builder serve`. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builds.h"
#include "history.h"
#include "kernel.h"
#include "overlay.h"
#include "patch.h"
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
		nk = realloc(rec->keys, (rec->nr + 1) * sizeof(*nk));
		if (nk)
			rec->keys = nk;
		nv = realloc(rec->values, (rec->nr + 1) * sizeof(*nv));
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

/* ---- the request --------------------------------------------------------- */

struct client {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_build_options *opts;
	struct elp_build_result *res;
	struct elp_kernel *kernel;
	struct elp_patch **patches;
	char **patch_names; /* as sent: [A-Za-z0-9._+-] */
	size_t nr_patches; /* with a cumulative build's applied ones first */
	bool cumulative;
	char *cache, *work;
	int work_lock; /* owns work (workdir.c) */
	char *request; /* the request bundle file */
	char *source_request; /* the same with the kernel's source, once made */
	double source_size; /* the source's, in MiB */
	unsigned int flags; /* ELP_REMOTE_* */
	char manifest[ELP_SHA256_HEX_LEN + 1];
	long long t0;
};

/* [A-Za-z0-9._+-], not starting with '.' or '-': a file name on the builder */
static char *wire_name(const char *name)
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

/*
 * A cumulative build, as a local one: the patches of the livepatches
 * applied here on the kernel first, then the given ones, each once
 * (elp_patch_cumulative_merge); the builder builds a module that
 * replaces them all.
 */
static int resolve_cumulative(struct client *c, const char *only)
{
	int64_t *applied = NULL;
	size_t nr = 0, nr_builds = 0;
	int err;

	if (c->opts->cumulative == 0)
		return 0;
	err = elp_builds_applied_patch_ids(c->cat, c->kernel->release, &applied,
					   &nr, &nr_builds);
	if (err)
		return err;
	/* a cumulative-only fix is cumulative even with nothing live */
	if (only && c->opts->cumulative < 0)
		elp_info(c->ctx, "cumulative: %s", only);
	else if (nr_builds == 0 && c->opts->cumulative < 0) {
		free(applied);
		return 0;
	}
	c->cumulative = c->res->cumulative = true;
	c->res->nr_applied_patches = nr;
	err = elp_patch_cumulative_merge(c->cat, c->ctx, applied, nr,
					 &c->patches, &c->nr_patches);
	free(applied);
	return err;
}

static int resolve(struct client *c)
{
	const struct elp_build_options *o = c->opts;
	char *first = NULL, *only = NULL;
	size_t i;
	int err;

	err = elp_kernel_for_build(c->cat, c->ctx, o->kernel, false,
				   &c->kernel);
	if (err)
		return err;
	c->res->kernel_release = strdup(c->kernel->release);
	if (!c->kernel->config || !c->kernel->symbols_path) {
		elp_err(c->ctx,
			"kernel '%s' has no %s; a builder needs it to build for it",
			c->kernel->name,
			c->kernel->config ? "symbol table" : "config");
		return -ENOENT;
	}
	if (!c->res->kernel_release)
		return -ENOMEM;
	err = elp_patch_resolve_all(c->cat, o->patches, o->nr_patches,
				    &c->patches, &first);
	if (err)
		return err;
	c->nr_patches = o->nr_patches;
	/* the module's name: the first given patch's */
	if (!first && !(first = strdup(c->patches[0]->name)))
		return -ENOMEM;
	/* a patch of a cumulative-only overlay fix makes the build
	 * cumulative, as here; --no-cumulative is refused before any
	 * builder is asked */
	for (i = 0; !err && !only && i < c->nr_patches; i++)
		err = elp_overlay_patch_cumulative_only(
			c->cat, c->patches[i]->id, &only);
	if (err > 0)
		err = 0;
	if (!err && only && o->cumulative == 0) {
		err = -ENOTSUP;
		c->res->status = "refused";
		if (asprintf(
			    &c->res->reason,
			    "%s: it is only delivered in a cumulative build (klp replace); build it without --no-cumulative",
			    only) < 0)
			c->res->reason = NULL;
		elp_err(c->ctx, "%s", c->res->reason ? c->res->reason : only);
	}
	if (!err)
		err = resolve_cumulative(c, only);
	if (!err &&
	    !(c->patch_names = calloc(c->nr_patches + 1, sizeof(char *))))
		err = -ENOMEM;
	for (i = 0; !err && i < c->nr_patches; i++)
		if (!(c->patch_names[i] = wire_name(c->patches[i]->name)))
			err = -ENOMEM;
	if (!err) {
		c->res->module_name = o->name ? strdup(o->name)
					      : elp_build_module_name(first);
		if (!c->res->module_name)
			err = -ENOMEM;
	}
	free(first);
	free(only);
	return err;
}

static int add_oot(struct client *c, struct elp_bundle *b, struct elp_buf *req)
{
	int64_t *ids = NULL;
	size_t nr = 0, i;
	int err;

	err = elp_kernel_patch_ids(c->cat, c->kernel->id, &ids, &nr);
	for (i = 0; !err && i < nr; i++) {
		struct elp_patch *p = NULL;
		char spec[32], name[32];

		snprintf(spec, sizeof(spec), "%lld", (long long)ids[i]);
		snprintf(name, sizeof(name), "oot/%03zu.patch", i);
		err = elp_patch_find(c->cat, spec, &p);
		if (!err && !p)
			err = -ENOENT;
		if (!err)
			err = elp_bundle_add_data(b, name, p->content,
						  strlen(p->content));
		if (!err)
			err = elp_record_add(req, "oot", p->name);
		elp_patch_free(p);
	}
	free(ids);
	return err;
}

/* The request bundle, written to work/request.tar.zst. */
static int make_request(struct client *c, const char *src_name,
			const char *src_path)
{
	char manifest[ELP_SHA256_HEX_LEN + 1], **out;
	struct elp_bundle b = { 0 };
	struct elp_buf req = { 0 };
	char *symbols = NULL, *symvers = NULL;
	struct stat st;
	size_t i;
	int fd = -1, err;

	out = src_path ? &c->source_request : &c->request;
	elp_record_add(&req, "format", ELP_REMOTE_FORMAT);
	elp_record_add(&req, "engine", ELP_BUILD_ENGINE_VERSION);
	elp_record_add(&req, "release", c->kernel->release);
	elp_record_add(&req, "kernel", c->kernel->name);
	elp_record_add(&req, "module", c->res->module_name);
	elp_record_add(&req, "cc-version", c->kernel->cc_version_text);
	err = elp_bundle_add_data(&b, "config", c->kernel->config,
				  strlen(c->kernel->config));
	if (asprintf(&symbols, "%s/symbols", c->work) < 0 ||
	    asprintf(out, "%s/request%s.tar.zst", c->work,
		     src_path ? "-source" : "") < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!err)
		err = elp_kernel_symbols_extract(c->ctx, c->kernel, symbols);
	if (!err)
		err = elp_bundle_add_file(&b, "symbols", symbols);
	if (!err && c->kernel->build_dir &&
	    asprintf(&symvers, "%s/Module.symvers", c->kernel->build_dir) > 0 &&
	    elp_is_file(symvers))
		err = elp_bundle_add_file(&b, "Module.symvers", symvers);
	for (i = 0; !err && i < c->nr_patches; i++) {
		char *name;

		if (asprintf(&name, "patches/%03zu/%s.patch", i,
			     c->patch_names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		err = elp_bundle_add_data(&b, name, c->patches[i]->content,
					  strlen(c->patches[i]->content));
		free(name);
		if (!err)
			err = elp_record_add(&req, "patch", c->patch_names[i]);
	}
	if (!err && c->kernel->id)
		err = add_oot(c, &b, &req);
	for (i = 0; !err && i < c->opts->nr_extra_files; i++)
		err = elp_record_add(&req, "extra", c->opts->extra_files[i]);
	/* the patches sent are all the module carries: it replaces every
	 * livepatch on the kernel (klp_patch.replace) */
	if (!err && c->cumulative)
		err = elp_record_add(&req, "cumulative", "1");
	/* the builder builds in a sandbox (or refuses) */
	if (!err && c->opts->sandbox)
		err = elp_record_add(&req, "sandbox", "1");
	/* part of the request, so a rebuild is not the cached result */
	if (!err && c->opts->rebuild)
		err = elp_record_add(&req, "rebuild", "1");
	if (!err && src_path) {
		char *name = NULL;

		err = elp_record_add(&req, "source", src_name);
		if (!err && asprintf(&name, "source/%s", src_name) < 0)
			err = -ENOMEM;
		if (!err)
			err = elp_bundle_add_file(&b, name, src_path);
		free(name);
	}
	if (!err && !req.data)
		err = -ENOMEM;
	if (!err)
		err = elp_bundle_add_data(&b, "request", req.data, req.len);
	if (err)
		goto out;
	fd = open(*out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		elp_err(c->ctx, "cannot create '%s': %m", *out);
		goto out;
	}
	err = elp_bundle_write(c->ctx, &b, fd,
			       src_path ? manifest : c->manifest);
	if (!err && fstat(fd, &st) == 0 && !src_path)
		elp_info(
			c->ctx,
			"request %.12s: kernel %s inputs and %zu patches, %lld bytes",
			c->manifest, c->kernel->release, c->nr_patches,
			(long long)st.st_size);
	if (!err && !src_path) {
		c->res->inputs_sha256 = strdup(c->manifest);
		if (!c->res->inputs_sha256)
			err = -ENOMEM;
	}
out:
	if (fd >= 0)
		close(fd);
	free(symbols);
	free(symvers);
	elp_buf_free(&req);
	elp_bundle_free(&b);
	return err;
}

/* ---- talking to a builder ------------------------------------------------ */

struct talk {
	struct client *c;
	const struct elp_builder_url *url;
	char *last_line; /* of the builder's stderr: why it stopped */
	bool progress; /* tell opts->progress how much of the request went */
	unsigned int last_pct;
	struct elp_buf errbuf;
};

/* The ssh command line: ELP_SET_SSH or "ssh", then the builder. */
static char **ssh_argv(const struct elp_ctx *ctx,
		       const struct elp_builder_url *u, bool status)
{
	const char *ssh = elp_get(ctx, ELP_SET_SSH);
	char *words = strdup(ssh ? ssh : "ssh"), *w, *save = NULL;
	char **argv = calloc(strlen(words ? words : "") + 12, sizeof(char *));
	size_t n = 0;

	if (!words || !argv) {
		free(words);
		free(argv);
		return NULL;
	}
	for (w = strtok_r(words, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = strdup(w);
	/* never a password prompt on the build's terminal */
	argv[n++] = strdup("-oBatchMode=yes");
	if (u->port) {
		argv[n++] = strdup("-p");
		argv[n++] = strdup(u->port);
	}
	if (u->user) {
		argv[n++] = strdup("-l");
		argv[n++] = strdup(u->user);
	}
	argv[n++] = strdup("--");
	argv[n++] = strdup(u->host);
	if (asprintf(&argv[n++], "%s builder serve%s",
		     u->path ? u->path : "elivepatch",
		     status ? " --status" : "") < 0)
		argv[n - 1] = NULL;
	free(words);
	return argv;
}

static void free_argv(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* The builder's messages, one line at a time, into our log. */
static void take_stderr(struct talk *t, bool flush)
{
	char *nl;

	while (t->errbuf.data &&
	       ((nl = memchr(t->errbuf.data, '\n', t->errbuf.len)) ||
		(flush && t->errbuf.len))) {
		size_t n = nl ? (size_t)(nl - t->errbuf.data) : t->errbuf.len;
		char *line = strndup(t->errbuf.data, n);

		if (line && *line) {
			elp_info(t->c->ctx, "%s: %s", t->url->name, line);
			free(t->last_line);
			t->last_line = line;
		} else {
			free(line);
		}
		n += nl ? 1 : 0;
		memmove(t->errbuf.data, t->errbuf.data + n, t->errbuf.len - n);
		t->errbuf.len -= n;
		t->errbuf.data[t->errbuf.len] = '\0';
	}
}

static bool cancelled(const struct client *c)
{
	return c->opts->cancel && *c->opts->cancel;
}

/* Progress of a long send, at most once per percent, and when done. */
static void report(struct talk *t, unsigned long long sent,
		   unsigned long long total, bool done)
{
	const struct elp_build_options *o = t->c->opts;
	unsigned int pct = total ? (unsigned int)(sent * 100 / total) : 100;

	if (!t->progress || !o->progress || (!done && pct == t->last_pct))
		return;
	t->last_pct = pct;
	o->progress(o->progress_data, t->url->name, sent, total, done);
}

/*
 * Run ssh: the request on its stdin (a socket, so that a builder that hangs
 * up gives EPIPE, not SIGPIPE), its stdout into res_path, its stderr into
 * our log; without a request, ask for --status on an empty stdin.  Returns
 * ssh's wait status, or -errno.
 */
static int converse(struct talk *t, const char *req_path, const char *res_path)
{
	char **argv = ssh_argv(t->c->ctx, t->url, !req_path), buf[65536];
	int sv[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int req_fd = -1, res_fd = -1, status = 0, err = 0;
	size_t pending = 0, off = 0;
	unsigned long long sent = 0, total = 0;
	bool sending = true;
	struct stat st;
	pid_t pid = -1;

	if (!argv)
		return -ENOMEM;
	req_fd = open(req_path ? req_path : "/dev/null", O_RDONLY | O_CLOEXEC);
	res_fd = open(res_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (req_fd < 0 || res_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err = -errno;
		elp_err(t->c->ctx, "cannot talk to builder %s: %m",
			t->url->name);
		goto out;
	}
	if (fstat(req_fd, &st) == 0)
		total = (unsigned long long)st.st_size;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		if (dup2(sv[1], 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(errp[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	close(out[1]);
	close(errp[1]);
	sv[1] = out[1] = errp[1] = -1;
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd p[3] = { { sending ? sv[0] : -1, POLLOUT, 0 },
				       { out[0], POLLIN, 0 },
				       { errp[0], POLLIN, 0 } };
		ssize_t n;

		if (cancelled(t->c)) {
			kill(pid, SIGTERM);
			err = -EINTR;
			break;
		}
		if (poll(p, 3, 200) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (sending && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			if (off == pending) {
				n = read(req_fd, buf, sizeof(buf));
				pending = n > 0 ? (size_t)n : 0;
				off = 0;
			}
			if (pending == 0) {
				shutdown(sv[0], SHUT_WR);
				sending = false;
			} else {
				n = send(sv[0], buf + off, pending - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n > 0) {
					off += (size_t)n;
					sent += (unsigned long long)n;
					report(t, sent, total, false);
				} else if (errno != EAGAIN && errno != EINTR)
					sending = false; /* it hung up */
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(out[0], buf, sizeof(buf));
			if (n > 0 && write(res_fd, buf, (size_t)n) != n) {
				err = -errno;
				break;
			}
			if (n == 0 || (n < 0 && errno != EINTR)) {
				close(out[0]);
				out[0] = -1;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(errp[0], buf, sizeof(buf));
			if (n > 0)
				elp_buf_append(&t->errbuf, buf, (size_t)n);
			take_stderr(t, false);
			if (n == 0 || (n < 0 && errno != EINTR)) {
				close(errp[0]);
				errp[0] = -1;
			}
		}
	}
	take_stderr(t, true);
	report(t, sent, total, true);
out:
	if (pid > 0) {
		if (err)
			kill(pid, SIGTERM);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (res_fd >= 0 && close(res_fd) < 0 && !err)
		err = -errno;
	if (req_fd >= 0)
		close(req_fd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	free_argv(argv);
	return err ? err : status;
}

/* ---- the result ----------------------------------------------------------- */

/* Stage names are static strings in a result: the engine's, by name. */
static const char *const stage_names[] = {
	"resolve",	   "tree", "scope",  "compile-original", "apply",
	"compile-patched", "diff", "module", "record",
};

static const char *static_status(const char *s)
{
	if (!s)
		return NULL;
	if (strcmp(s, "succeeded") == 0)
		return "succeeded";
	if (strcmp(s, "failed") == 0)
		return "failed";
	if (strcmp(s, "refused") == 0)
		return "refused";
	return NULL;
}

/*
 * The builder's answer, checked: a known status, the module we asked for,
 * and for a success its module.ko with the sha256 the record claims.
 */
static int check_result(struct talk *t, const char *dir, struct elp_record *rec)
{
	char *path = NULL, sha[ELP_SHA256_HEX_LEN + 1];
	const char *status, *module, *claimed;
	int err;

	if (asprintf(&path, "%s/result", dir) < 0)
		return -ENOMEM;
	err = elp_record_parse(t->c->ctx, path, "the builder's result", rec);
	free(path);
	if (err)
		return err;
	status = static_status(elp_record_get(rec, "status"));
	module = elp_record_get(rec, "module");
	claimed = elp_record_get(rec, "sha256");
	if (!status || !module || strcmp(module, t->c->res->module_name) != 0) {
		elp_err(t->c->ctx,
			"the builder's result has no known status or is for another module");
		return -EBADMSG;
	}
	if (strcmp(status, "succeeded") != 0)
		return 0;
	if (asprintf(&path, "%s/module.ko", dir) < 0)
		return -ENOMEM;
	err = elp_is_file(path) ? elp_sha256_file(t->c->ctx, path, sha)
				: -ENOENT;
	free(path);
	if (err || !claimed || strcmp(sha, claimed) != 0) {
		elp_err(t->c->ctx,
			"the builder's result has no module, or not the one its record names");
		return -EBADMSG;
	}
	return 0;
}

static int copy_file(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data = NULL;
	size_t len = 0;
	int err = elp_read_file(ctx, from, &data, &len);

	if (!err)
		err = elp_write_file_atomic(ctx, to, data, len, 0644);
	free(data);
	return err;
}

/* The result into the artefact store and the result struct. */
static int store_result(struct client *c, const char *dir,
			const struct elp_record *rec)
{
	struct elp_build_result *r = c->res;
	struct elp_buf tsv = { 0 };
	char *store = NULL, *from = NULL, *to = NULL;
	size_t i, k;
	int err = 0;

	r->status = static_status(elp_record_get(rec, "status"));
	if (elp_record_get(rec, "reason"))
		r->reason = strdup(elp_record_get(rec, "reason"));
	if (asprintf(&store, "%s/artefacts/ssh-XXXXXX", c->cache) < 0)
		return -ENOMEM;
	err = elp_mkdir_p(c->ctx, store, 0755); /* its parent, then */
	if (!err && (rmdir(store) < 0 || !mkdtemp(store))) {
		err = -errno;
		elp_err(c->ctx, "cannot create '%s': %m", store);
	}
	for (i = 0; !err && i < rec->nr; i++) {
		const char *v = rec->values[i];
		struct elp_build_func *nf;
		char obj[256], name[512], src[1024];
		unsigned long pos;
		long long ms;

		if (strcmp(rec->keys[i], "stage") == 0 &&
		    sscanf(v, "%255s %lld", obj, &ms) == 2) {
			for (k = 0;
			     k < sizeof(stage_names) / sizeof(stage_names[0]);
			     k++)
				if (strcmp(obj, stage_names[k]) == 0 &&
				    r->nr_stages < 15) {
					r->stages[r->nr_stages].name =
						stage_names[k];
					r->stages[r->nr_stages++].ms = ms;
				}
		}
		if (strcmp(rec->keys[i], "function") != 0 ||
		    sscanf(v, "%255[^\t]\t%511[^\t]\t%lu\t%1023[^\n]", obj,
			   name, &pos, src) != 4)
			continue;
		nf = realloc(r->funcs, (r->nr_funcs + 1) * sizeof(*nf));
		if (!nf) {
			err = -ENOMEM;
			break;
		}
		r->funcs = nf;
		nf += r->nr_funcs++;
		nf->object = strdup(obj);
		nf->old_name = strdup(name);
		nf->sympos = pos;
		nf->source_file = strdup(src);
		elp_buf_printf(&tsv, "%s\t%s\t%lu\t%s\n", obj, name, pos, src);
	}
	if (err)
		goto out;
	if (asprintf(&from, "%s/build.log", dir) < 0 ||
	    asprintf(&to, "%s/build.log", store) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (elp_is_file(from)) {
		err = copy_file(c->ctx, from, to);
		r->log_path = to;
		to = NULL;
	}
	if (!err && strcmp(r->status, "succeeded") == 0) {
		free(from);
		free(to);
		from = to = NULL;
		if (asprintf(&from, "%s/module.ko", dir) < 0 ||
		    asprintf(&to, "%s/%s.ko", store, r->module_name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		err = copy_file(c->ctx, from, to);
		r->artefact_path = to;
		to = NULL;
		r->artefact_sha256 = strdup(elp_record_get(rec, "sha256"));
		free(from);
		from = NULL;
		if (!err && asprintf(&from, "%s/functions.tsv", store) > 0)
			err = elp_write_file_atomic(c->ctx, from,
						    tsv.data ? tsv.data : "",
						    tsv.len, 0644);
	}
out:
	if (err)
		elp_rm_rf(c->ctx, store);
	free(store);
	free(from);
	free(to);
	elp_buf_free(&tsv);
	return err;
}

/* The build row, its patches and stages, and a history event, at once. */
static int record(struct client *c, const struct elp_builder_url *u,
		  const struct elp_record *rec)
{
	struct elp_build_result *r = c->res;
	struct elp_build_record br = { 0 };
	int64_t *ids = calloc(c->nr_patches, sizeof(*ids));
	char *detail = NULL;
	size_t i;
	int err;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < c->nr_patches; i++)
		ids[i] = c->patches[i]->id;
	br.kernel_id = c->kernel->id;
	br.kernel_release = r->kernel_release;
	br.module_name = r->module_name;
	br.inputs_sha256 = r->inputs_sha256;
	br.patch_ids = ids;
	br.nr_patch_ids = c->nr_patches;
	br.cumulative = c->cumulative;
	br.backend = "ssh";
	br.builder_host = u->name;
	err = elp_catalogue_begin(c->cat);
	if (err) {
		free(ids);
		return err;
	}
	err = elp_builds_start(c->cat, &br, &r->build_id);
	free(ids);
	if (err)
		goto fail;
	if (asprintf(&detail, "%s on builder %s (%s, %s)%s%s", r->status,
		     u->name,
		     elp_record_get(rec, "host") ? elp_record_get(rec, "host")
						 : "?",
		     elp_record_get(rec, "compiler")
			     ? elp_record_get(rec, "compiler")
			     : "compiler unknown",
		     r->reason ? ": " : "", r->reason ? r->reason : "") < 0) {
		err = -ENOMEM;
		goto fail;
	}
	err = elp_builds_finish_result(c->cat, r);
	if (!err)
		err = elp_event_add_build(c->cat, r, c->kernel->id,
					  c->patches[0]->id, detail);
	free(detail);
	if (err)
		goto fail;
	return elp_catalogue_commit(c->cat);
fail:
	elp_catalogue_rollback(c->cat);
	r->build_id = 0;
	return err;
}

/*
 * The request with the kernel's source, made once: its tarball, or its
 * directory as a tar (sorted, owners 0), named [A-Za-z0-9._+-].
 */
static int source_request(struct client *c, const struct elp_builder_url *u)
{
	const struct elp_kernel *k = c->kernel;
	bool tarball = k->source_kind && strcmp(k->source_kind, "tarball") == 0;
	char *base = NULL, *name = NULL, *tar = NULL, *parent = NULL;
	struct stat st;
	int err = 0;

	if (c->source_request)
		goto said;
	if (!k->source) {
		elp_err(c->ctx, "kernel '%s' has no source to send", k->name);
		return -ENOENT;
	}
	base = wire_name(strrchr(k->source, '/') ? strrchr(k->source, '/') + 1
						 : k->source);
	if (!base || asprintf(&name, "%s%s", base, tarball ? "" : ".tar") < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!tarball) {
		const char *slash = strrchr(k->source, '/');

		parent = slash && slash != k->source
				 ? strndup(k->source,
					   (size_t)(slash - k->source))
				 : strdup(slash ? "/" : ".");
		if (!parent || asprintf(&tar, "%s/%s", c->work, name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		elp_info(c->ctx, "packing the source directory '%s'",
			 k->source);
		{
			const char *argv[] = { "tar",
					       "--sort=name",
					       "--owner=0",
					       "--group=0",
					       "--numeric-owner",
					       "--exclude-vcs",
					       "-cf",
					       tar,
					       "-C",
					       parent,
					       slash ? slash + 1 : k->source,
					       NULL };

			err = elp_run(c->ctx, argv, NULL, -1, NULL);
		}
		if (err) {
			elp_err(c->ctx, "cannot pack '%s' into '%s'", k->source,
				tar);
			err = err < 0 ? err : -EIO;
			goto out;
		}
	}
	c->source_size = stat(tarball ? k->source : tar, &st) == 0
				 ? (double)st.st_size / (1024.0 * 1024.0)
				 : 0;
	err = make_request(c, name, tarball ? k->source : tar);
	if (tar)
		unlink(tar); /* in the request now */
	if (err)
		goto out;
said:
	if (stat(c->source_request, &st) == 0)
		elp_notice(
			c->ctx,
			"builder %s has no kernel for it: sending the source of kernel '%s' (%s, %.1f MiB), %.1f MiB with the request",
			u->name, k->name, k->source, c->source_size,
			(double)st.st_size / (1024.0 * 1024.0));
out:
	free(base);
	free(name);
	free(tar);
	free(parent);
	return err;
}

/*
 * One builder: 0 when it answered (the result is recorded), else why it
 * did not (logged as a warning by the caller), -EINTR when cancelled.
 */
static int try_builder(struct client *c, const struct elp_builder_url *u,
		       unsigned int n)
{
	struct elp_bundle_limits lim = { ELP_RESULT_MAX_ENTRIES,
					 ELP_RESULT_MAX_BYTES };
	struct talk t = { .c = c, .url = u };
	struct elp_record rec = { 0 };
	char *res_path = NULL, *dir = NULL;
	int status, fd, err;

	if (asprintf(&res_path, "%s/result-%u.tar.zst", c->work, n) < 0 ||
	    asprintf(&dir, "%s/result-%u", c->work, n) < 0) {
		err = -ENOMEM;
		goto out;
	}
	elp_info(c->ctx, "building on %s", u->name);
	status = converse(&t, c->request, res_path);
	if (status >= 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == ELP_BUILDER_NEEDS_SOURCE &&
	    c->flags & ELP_REMOTE_SEND_SOURCE) {
		/* it has no kernel for it: the source, as asked */
		err = source_request(c, u);
		if (err)
			goto out;
		free(t.last_line);
		t.last_line = NULL;
		t.progress = true;
		status = converse(&t, c->source_request, res_path);
	}
	if (status < 0) {
		err = status;
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *why = t.last_line ? t.last_line : "no message";

		if (WIFEXITED(status) && WEXITSTATUS(status) == 255)
			elp_warn(
				c->ctx,
				"builder %s: cannot connect, or the connection dropped without a result: %s",
				u->name, why);
		else if (WIFEXITED(status) &&
			 (WEXITSTATUS(status) == ELP_BUILDER_UNAVAILABLE ||
			  WEXITSTATUS(status) == ELP_BUILDER_NEEDS_SOURCE))
			elp_warn(c->ctx, "builder %s cannot build it: %s",
				 u->name, why);
		else
			elp_warn(
				c->ctx,
				"builder %s stopped (%s %d) without a result: %s",
				u->name,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status)
						  : WTERMSIG(status),
				why);
		err = -EHOSTUNREACH;
		goto out;
	}
	fd = open(res_path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno
		     : elp_bundle_extract(c->ctx, fd, dir, &lim,
					  "the builder's result", NULL);
	if (fd >= 0)
		close(fd);
	if (!err)
		err = check_result(&t, dir, &rec);
	if (err) {
		elp_warn(c->ctx, "builder %s sent no valid result", u->name);
		err = -EHOSTUNREACH;
		goto out;
	}
	c->res->duration_ms = elp_now_ms() - c->t0;
	err = store_result(c, dir, &rec);
	if (!err)
		err = record(c, u, &rec);
	if (!err)
		elp_info(c->ctx, "built on %s (%s) with %s", u->name,
			 elp_record_get(&rec, "host"),
			 elp_record_get(&rec, "compiler")
				 ? elp_record_get(&rec, "compiler")
				 : "an unknown compiler");
out:
	if (dir)
		elp_rm_rf(c->ctx, dir);
	if (res_path)
		unlink(res_path);
	elp_record_free(&rec);
	free(t.last_line);
	elp_buf_free(&t.errbuf);
	free(res_path);
	free(dir);
	return err;
}

static void client_free(struct client *c)
{
	size_t i;

	elp_workdir_remove(c->ctx, c->work, c->work_lock);
	free(c->work);
	free(c->cache);
	free(c->request);
	free(c->source_request);
	for (i = 0; i < c->nr_patches; i++)
		elp_patch_free(c->patches[i]);
	free(c->patches);
	for (i = 0; c->patch_names && i < c->nr_patches; i++)
		free(c->patch_names[i]);
	free(c->patch_names);
	elp_kernel_free(c->kernel);
}

static int set_up(struct client *c)
{
	char *parent = NULL;
	int err;

	c->cache = c->opts->cache_dir ? strdup(c->opts->cache_dir)
				      : elp_build_default_cache(c->ctx);
	if (!c->cache || asprintf(&parent, "%s/remote", c->cache) < 0) {
		free(parent);
		return -ENOMEM;
	}
	err = elp_private_dir(c->ctx, c->cache, "cache");
	if (!err)
		err = elp_mkdir_p(c->ctx, parent, 0755);
	if (!err) {
		elp_workdir_reap(c->ctx, parent, "client");
		err = elp_workdir_create(c->ctx, parent, "client", &c->work,
					 &c->work_lock);
	}
	free(parent);
	return err;
}

/* How busy a builder says it is; unanswered ones go last, in order. */
struct rank {
	size_t i;
	bool ok;
	long running;
	double load;
};

static int cmp_rank(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->ok != y->ok)
		return x->ok ? -1 : 1;
	if (x->ok && x->running != y->running)
		return x->running < y->running ? -1 : 1;
	if (x->ok && x->load != y->load)
		return x->load < y->load ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void ask_status(struct client *c, const char *url, struct rank *r)
{
	struct talk t = { .c = c };
	struct elp_builder_url *u = NULL;
	char *path = NULL, *text = NULL;
	int status;

	if (elp_builder_url_parse(c->ctx, url, &u) ||
	    asprintf(&path, "%s/status-%zu", c->work, r->i) < 0) {
		elp_builder_url_free(u);
		return;
	}
	t.url = u;
	status = converse(&t, NULL, path);
	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    elp_read_file(NULL, path, &text, NULL) == 0 &&
	    sscanf(text, "builds-running %ld load %lf", &r->running,
		   &r->load) == 2) {
		r->ok = true;
		elp_info(c->ctx, "builder %s: %ld builds running, load %.2f",
			 u->name, r->running, r->load);
	} else {
		elp_warn(c->ctx, "builder %s gives no status (%s); asked last",
			 u->name, t.last_line ? t.last_line : "no answer");
	}
	unlink(path);
	free(text);
	free(path);
	free(t.last_line);
	elp_buf_free(&t.errbuf);
	elp_builder_url_free(u);
}

/* The order to try the builders in: as given, or the least busy first. */
static struct rank *order(struct client *c, const char *const *builders,
			  size_t nr, unsigned int flags)
{
	struct rank *r = calloc(nr, sizeof(*r));
	size_t i;

	if (!r)
		return NULL;
	for (i = 0; i < nr; i++) {
		r[i].i = i;
		if (flags & ELP_REMOTE_LEAST_BUSY && nr > 1)
			ask_status(c, builders[i], &r[i]);
	}
	if (flags & ELP_REMOTE_LEAST_BUSY && nr > 1) {
		qsort(r, nr, sizeof(*r), cmp_rank);
		elp_info(c->ctx, "least busy builder: %s", builders[r[0].i]);
	}
	return r;
}

int elp_remote_build(struct elp_catalogue *cat,
		     const struct elp_build_options *opts,
		     const char *const *builders, size_t nr_builders,
		     unsigned int flags, struct elp_build_result **out)
{
	struct client c = { .cat = cat,
			    .ctx = elp_catalogue_ctx(cat),
			    .opts = opts,
			    .work_lock = -1 };
	struct rank *rank = NULL;
	size_t i;
	int err = 0;

	*out = NULL;
	c.t0 = elp_now_ms();
	c.flags = flags;
	if (nr_builders == 0 || !opts->nr_patches) {
		elp_err(c.ctx, "no builder or no patch given");
		return -EINVAL;
	}
	c.res = calloc(1, sizeof(*c.res));
	if (!c.res)
		return -ENOMEM;
	c.res->status = "failed";
	/* every URL checked before anything is sent */
	for (i = 0; !err && i < nr_builders; i++) {
		struct elp_builder_url *u;

		err = elp_builder_url_parse(c.ctx, builders[i], &u);
		elp_builder_url_free(u);
	}
	if (!err)
		err = set_up(&c);
	if (!err)
		err = resolve(&c);
	if (!err)
		err = make_request(&c, NULL, NULL);
	if (!err) {
		rank = order(&c, builders, nr_builders, flags);
		if (!rank)
			err = -ENOMEM;
	}
	for (i = 0; !err && i < nr_builders; i++) {
		struct elp_builder_url *u = NULL;

		if (cancelled(&c)) {
			err = -EINTR;
			break;
		}
		err = elp_builder_url_parse(c.ctx, builders[rank[i].i], &u);
		if (!err)
			err = try_builder(&c, u, (unsigned int)i);
		elp_builder_url_free(u);
		if (err == -EHOSTUNREACH) {
			if (i + 1 < nr_builders)
				elp_warn(c.ctx, "trying the next builder, %s",
					 builders[rank[i + 1].i]);
			else
				elp_err(c.ctx,
					"no builder could build it (%zu tried)",
					nr_builders);
			err = i + 1 < nr_builders ? 0 : -EHOSTUNREACH;
			continue;
		}
		break;
	}
	if (!err && c.res->build_id && opts->output &&
	    strcmp(c.res->status, "succeeded") == 0) {
		err = copy_file(c.ctx, c.res->artefact_path, opts->output);
		if (!err)
			c.res->output_path = elp_abspath(opts->output);
	}
	if (!err && c.res->build_id && strcmp(c.res->status, "succeeded") != 0)
		err = strcmp(c.res->status, "refused") == 0 ? -ENOTSUP : -EIO;
	if (err && !c.res->reason && !c.res->build_id)
		c.res->reason = strdup(err == -EHOSTUNREACH
					       ? "no builder could build it"
					       : strerror(-err));
	c.res->duration_ms = elp_now_ms() - c.t0;
	free(rank);
	client_free(&c);
	*out = c.res;
	return err;
}
