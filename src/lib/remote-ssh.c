// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Talking to a builder: `ssh HOST elivepatch builder serve` run with the
 * request on its stdin, its result and messages read back, progress and
 * cancelling on the way; and asking every builder how busy it is, for
 * the order to try them in.
 */
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
#include <unistd.h>

#include "remote-client-internal.h"
#include "remote.h"

/* ---- talking to a builder ------------------------------------------------ */

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
int elp_remote_converse(struct talk *t, const char *req_path,
			const char *res_path)
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

		if (elp_remote_cancelled(t->c)) {
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
	status = elp_remote_converse(&t, NULL, path);
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
struct rank *elp_remote_order(struct client *c, const char *const *builders,
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
