// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

int elp_buf_append(struct elp_buf *buf, const void *data, size_t len)
{
	if (buf->err)
		return buf->err;
	if (buf->len + len + 1 > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 256;
		char *p;

		while (cap < buf->len + len + 1)
			cap *= 2;
		p = realloc(buf->data, cap);
		if (!p) {
			buf->err = -ENOMEM;
			return buf->err;
		}
		buf->data = p;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int elp_buf_puts(struct elp_buf *buf, const char *s)
{
	return elp_buf_append(buf, s, strlen(s));
}

int elp_buf_printf(struct elp_buf *buf, const char *fmt, ...)
{
	va_list args;
	char *s;
	int n, err;

	if (buf->err)
		return buf->err;
	va_start(args, fmt);
	n = vasprintf(&s, fmt, args);
	va_end(args);
	if (n < 0) {
		buf->err = -ENOMEM;
		return buf->err;
	}
	err = elp_buf_append(buf, s, (size_t)n);
	free(s);
	return err;
}

void elp_buf_free(struct elp_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
	buf->err = 0;
}

int elp_read_file(struct elp_ctx *ctx, const char *path, char **data,
		  size_t *len)
{
	struct elp_buf buf = { 0 };
	char chunk[65536];
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		elp_err(ctx, "cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			elp_err(ctx, "cannot read '%s': %s", path,
				strerror(-err));
			break;
		}
		err = elp_buf_append(&buf, chunk, (size_t)n);
		if (err)
			break;
	}
	close(fd);
	if (!err && !buf.data)
		err = elp_buf_append(&buf, "", 0);
	if (err) {
		elp_buf_free(&buf);
		return err;
	}
	*data = buf.data;
	if (len)
		*len = buf.len;
	return 0;
}

int elp_write_file_atomic(struct elp_ctx *ctx, const char *path,
			  const void *data, size_t len, int mode)
{
	char *tmp;
	int fd, err = 0;
	const char *p = data;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		err = -errno;
		elp_err(ctx, "cannot create '%s': %s", tmp, strerror(-err));
		free(tmp);
		return err;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		elp_err(ctx, "cannot write '%s': %s", path, strerror(-err));
		unlink(tmp);
	}
	free(tmp);
	return err;
}

int elp_mkdir_p(struct elp_ctx *ctx, const char *path, int mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	/* each directory made gets mode exactly, whatever the umask */
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) == 0)
			chmod(buf, (mode_t)mode);
		else if (errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) == 0)
		chmod(buf, (mode_t)mode);
	else if (errno != EEXIST)
		goto fail;
	if (!elp_is_dir(path)) {
		elp_err(ctx, "cannot create directory '%s': %s", path,
			strerror(ENOTDIR));
		return -ENOTDIR;
	}
	return 0;
fail:
	elp_err(ctx, "cannot create directory '%s': %s", buf, strerror(errno));
	return -errno;
}

/* Could a user other than root change what is at path? */
static int untrusted(struct elp_ctx *ctx, const char *shown, const char *what,
		     const char *path, const struct stat *st)
{
	if (st->st_uid != 0) {
		struct passwd *pw = getpwuid(st->st_uid);

		elp_err(ctx,
			"refusing to use %s '%s' as root: '%s' is owned by user %s (uid %u), not root",
			what, shown, path, pw ? pw->pw_name : "?",
			(unsigned int)st->st_uid);
		return -EPERM;
	}
	if ((st->st_mode & S_IWOTH) && !S_ISLNK(st->st_mode) &&
	    !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
		elp_err(ctx,
			"refusing to use %s '%s' as root: '%s' is writable by every user (mode %04o)",
			what, shown, path, (unsigned int)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int elp_check_trusted(struct elp_ctx *ctx, const char *path, const char *what)
{
	char *copy, *real = NULL, *p;
	struct stat st;
	int err = 0;

	if (geteuid() != 0)
		return 0;
	/* the name itself (a symlink someone else planted), then the
	 * real path and every directory above it */
	if (lstat(path, &st) == 0) {
		err = untrusted(ctx, path, what, path, &st);
		if (err)
			return err;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	/* the deepest part that exists */
	while (!(real = realpath(copy, NULL))) {
		char *slash = strrchr(copy, '/');

		if (errno == ENOMEM || strcmp(copy, ".") == 0 || !*copy) {
			free(copy);
			return errno == ENOMEM ? -ENOMEM : 0;
		}
		if (!slash)
			memcpy(copy, ".", 2); /* the working directory */
		else if (slash == copy)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(copy);
	for (p = real + strlen(real); !err;) {
		if (stat(real, &st) == 0)
			err = untrusted(ctx, path, what, real, &st);
		while (p > real && *p != '/')
			p--;
		if (p == real) {
			if (real[1] == '\0')
				break;
			real[1] = '\0'; /* "/" last */
		} else {
			*p = '\0';
		}
	}
	free(real);
	return err;
}

/* The first entry of a tree another user could change (nftw has no data). */
static __thread char *walk_bad;
static __thread struct stat walk_st;

static int walk_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	/* inside a tree even a sticky directory lets others add files */
	if (st->st_uid == 0 &&
	    (!(st->st_mode & S_IWOTH) || S_ISLNK(st->st_mode)))
		return 0;
	walk_bad = strdup(path);
	walk_st = *st;
	walk_st.st_mode &= ~(mode_t)S_ISVTX;
	return 1;
}

int elp_check_trusted_tree(struct elp_ctx *ctx, const char *path,
			   const char *what)
{
	int err = elp_check_trusted(ctx, path, what);

	if (err || geteuid() != 0)
		return err;
	walk_bad = NULL;
	if (nftw(path, walk_one, 32, FTW_PHYS) == 1) {
		if (!walk_bad)
			return -ENOMEM;
		err = untrusted(ctx, path, what, walk_bad, &walk_st);
		free(walk_bad);
		walk_bad = NULL;
	}
	return err;
}

int elp_private_dir(struct elp_ctx *ctx, const char *path, const char *what)
{
	int err = elp_check_trusted(ctx, path, what);

	if (!err && !elp_is_dir(path))
		err = elp_mkdir_p(ctx, path, 0700);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int elp_rm_rf(struct elp_ctx *ctx, const char *path)
{
	if (access(path, F_OK) < 0)
		return 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0) {
		int err = -errno;

		elp_err(ctx, "cannot remove '%s': %s", path, strerror(-err));
		return err;
	}
	return 0;
}

int elp_sha256_hex(const void *data, size_t len,
		   char out[ELP_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned int i;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	for (i = 0; i < mdlen; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	return 0;
}

int elp_sha256_file(struct elp_ctx *ctx, const char *path,
		    char out[ELP_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char chunk[65536];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *md_ctx;
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		elp_err(ctx, "cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	md_ctx = EVP_MD_CTX_new();
	if (!md_ctx || !EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL)) {
		err = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			elp_err(ctx, "cannot read '%s': %s", path,
				strerror(-err));
			goto out;
		}
		EVP_DigestUpdate(md_ctx, chunk, (size_t)n);
	}
	EVP_DigestFinal_ex(md_ctx, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
out:
	EVP_MD_CTX_free(md_ctx);
	close(fd);
	return err;
}

bool elp_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool elp_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *elp_abspath(const char *path)
{
	return realpath(path, NULL);
}

/* In the child: report errno through the close-on-exec pipe, exit. */
static void child_fail(int fd)
{
	int e = errno;
	/* a failed write leaves the exit status to say it */
	ssize_t n = write(fd, &e, sizeof(e));

	(void)n;
	_exit(127);
}

/* The errno a child sent before exec, or 0 when exec succeeded. */
static int exec_error(int fd)
{
	int e = 0;
	ssize_t n;

	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

int elp_run(struct elp_ctx *ctx, const char *const argv[], const char *cwd,
	    int log_fd, struct elp_buf *out)
{
	int pipefd[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
	int status, err, exec_errno;
	pid_t pid;

	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -errno;
	if (out && pipe2(pipefd, O_CLOEXEC) < 0) {
		err = -errno;
		close(errpipe[0]);
		close(errpipe[1]);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		if (out) {
			close(pipefd[0]);
			close(pipefd[1]);
		}
		close(errpipe[0]);
		close(errpipe[1]);
		return err;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		int errfd = log_fd >= 0 ? log_fd : devnull;

		dup2(devnull, STDIN_FILENO);
		dup2(out ? pipefd[1] : errfd, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		if (cwd && chdir(cwd) < 0)
			child_fail(errpipe[1]);
		execvp(argv[0], (char *const *)argv);
		child_fail(errpipe[1]);
	}
	close(errpipe[1]);
	if (out) {
		char chunk[4096];
		ssize_t n;

		close(pipefd[1]);
		while ((n = read(pipefd[0], chunk, sizeof(chunk))) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (elp_buf_append(out, chunk, (size_t)n) < 0)
				break;
		}
		close(pipefd[0]);
	}
	exec_errno = exec_error(errpipe[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = -errno;
			elp_err(ctx, "cannot wait for '%s': %s", argv[0],
				strerror(-err));
			return err;
		}
	}
	if (exec_errno) {
		elp_dbg(ctx, "cannot run '%s'%s%s: %s", argv[0],
			cwd ? " in " : "", cwd ? cwd : "",
			strerror(exec_errno));
		return -exec_errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

long long elp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *elp_rstrip(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' ||
		     s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

bool elp_all_digits(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool elp_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int elp_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* When process pid started, seconds since the epoch, or -1 when /proc
 * cannot tell. */
static long long process_start(int64_t pid)
{
	char path[64], *stat = NULL, *sys = NULL, *p;
	unsigned long long ticks;
	long long btime = -1;
	long hz = sysconf(_SC_CLK_TCK);
	int i;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if (hz <= 0 || elp_read_file(NULL, path, &stat, NULL) < 0 || !stat)
		return -1;
	/* field 22, starttime; the comm in field 2 may hold spaces */
	p = strrchr(stat, ')');
	for (i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p && sscanf(p + 1, "%llu", &ticks) == 1 &&
	    elp_read_file(NULL, "/proc/stat", &sys, NULL) == 0 && sys) {
		const char *b = strstr(sys, "\nbtime ");

		if (b && sscanf(b + 7, "%lld", &btime) == 1)
			btime += (long long)(ticks / (unsigned long long)hz);
		else
			btime = -1;
	}
	free(stat);
	free(sys);
	return btime;
}

bool elp_process_alive(int64_t pid, int64_t since)
{
	char path[64], *comm = NULL, *mine = NULL;
	long long start;
	bool alive;

	if (pid <= 0 || pid > INT32_MAX)
		return false;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return false;
	if (elp_read_file(NULL, "/proc/self/comm", &mine, NULL) < 0 || !mine)
		return true; /* no /proc: trust kill() */
	snprintf(path, sizeof(path), "/proc/%lld/comm", (long long)pid);
	alive = elp_read_file(NULL, path, &comm, NULL) == 0 && comm &&
		strcmp(elp_rstrip(comm), elp_rstrip(mine)) == 0;
	free(comm);
	free(mine);
	if (!alive || since <= 0)
		return alive;
	start = process_start(pid);
	/* 2 s of slack: btime and starttime are both rounded */
	return start < 0 || start <= since + 2;
}

void *elp_grow(void *ptr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return ptr;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if (!elem || ncap > SIZE_MAX / elem)
		return NULL;
	p = realloc(ptr, ncap * elem);
	if (!p)
		return NULL;
	*cap = ncap;
	return p;
}

uint64_t elp_fnv1a(const void *data, size_t len)
{
	const unsigned char *s = data;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

bool elp_strset_has_n(const struct elp_strset *set, const char *s, size_t len)
{
	size_t i;

	if (!set->cap)
		return false;
	for (i = (size_t)elp_fnv1a(s, len) & (set->cap - 1); set->slot[i];
	     i = (i + 1) & (set->cap - 1))
		if (strncmp(set->slot[i], s, len) == 0 &&
		    set->slot[i][len] == '\0')
			return true;
	return false;
}

bool elp_strset_has(const struct elp_strset *set, const char *s)
{
	return elp_strset_has_n(set, s, strlen(s));
}

/* The free slot for s (not a member) in slot[0..cap). */
static size_t strset_slot(char **slot, size_t cap, const char *s)
{
	size_t i;

	for (i = (size_t)elp_fnv1a(s, strlen(s)) & (cap - 1); slot[i];
	     i = (i + 1) & (cap - 1))
		;
	return i;
}

int elp_strset_add(struct elp_strset *set, const char *s)
{
	size_t i;

	if (elp_strset_has(set, s))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		char **slot = calloc(cap, sizeof(char *));

		if (!slot)
			return -ENOMEM;
		for (i = 0; i < set->cap; i++)
			if (set->slot[i])
				slot[strset_slot(slot, cap, set->slot[i])] =
					set->slot[i];
		free(set->slot);
		set->slot = slot;
		set->cap = cap;
	}
	i = strset_slot(set->slot, set->cap, s);
	set->slot[i] = set->borrow ? (char *)s : strdup(s);
	if (!set->slot[i])
		return -ENOMEM;
	set->n++;
	return 1;
}

void elp_strset_free(struct elp_strset *set)
{
	size_t i;

	for (i = 0; !set->borrow && i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	set->slot = NULL;
	set->cap = set->n = 0;
}

/* Twice the buckets (or the first 1024), every entry chained again. */
static int hindex_rehash(struct elp_hindex *ix)
{
	size_t n = ix->nbuckets ? ix->nbuckets * 2 : 1024, i;
	size_t *head = malloc(n * sizeof(*head));

	if (!head)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		head[i] = ELP_HINDEX_END;
	for (i = 0; i < ix->nr; i++) {
		size_t b = (size_t)ix->hash[i] & (n - 1);

		ix->next[i] = head[b];
		head[b] = i;
	}
	free(ix->head);
	ix->head = head;
	ix->nbuckets = n;
	return 0;
}

int elp_hindex_add(struct elp_hindex *ix, const char *name, size_t len)
{
	size_t cap = ix->cap, b;
	size_t *next = elp_grow(ix->next, &cap, ix->nr + 1, sizeof(*next));
	uint64_t *hash;

	if (!next)
		return -ENOMEM;
	ix->next = next;
	cap = ix->cap;
	hash = elp_grow(ix->hash, &cap, ix->nr + 1, sizeof(*hash));
	if (!hash)
		return -ENOMEM;
	ix->hash = hash;
	ix->cap = cap;
	ix->hash[ix->nr] = elp_fnv1a(name, len);
	ix->nr++;
	if (ix->nr > ix->nbuckets)
		return hindex_rehash(ix);
	b = (size_t)ix->hash[ix->nr - 1] & (ix->nbuckets - 1);
	ix->next[ix->nr - 1] = ix->head[b];
	ix->head[b] = ix->nr - 1;
	return 0;
}

size_t elp_hindex_first(const struct elp_hindex *ix, const char *name,
			size_t len)
{
	if (!ix->nbuckets)
		return ELP_HINDEX_END;
	return ix->head[(size_t)elp_fnv1a(name, len) & (ix->nbuckets - 1)];
}

size_t elp_hindex_next(const struct elp_hindex *ix, size_t i)
{
	return ix->next[i];
}

void elp_hindex_free(struct elp_hindex *ix)
{
	free(ix->head);
	free(ix->next);
	free(ix->hash);
	memset(ix, 0, sizeof(*ix));
}

void elp_strv_free(char **v, size_t n)
{
	while (v && n)
		free(v[--n]);
	free(v);
}

int elp_strv_push(char ***v, size_t *n, const char *s)
{
	char **nv;

	if (!s)
		return -EINVAL;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

bool elp_strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

int elp_strv_add_unique(char ***v, size_t *n, const char *s)
{
	return elp_strv_has(*v, *n, s) ? 0 : elp_strv_push(v, n, s);
}
