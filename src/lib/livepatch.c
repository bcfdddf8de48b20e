// SPDX-License-Identifier: GPL-2.0-or-later
/* Livepatch lifecycle: libkmod, /sys/kernel/livepatch, /proc, catalogue. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <gelf.h>
#include <libkmod.h>

#include "catalogue-internal.h"
#include "kernel.h"
#include "livepatch.h"
#include "sign.h"
#include "util.h"

/* First line of a rooted file, or NULL; never logs. */
static char *read_line_rooted(struct elp_ctx *ctx, const char *path)
{
	char *p = elp_rooted(ctx, path);
	char *data = NULL;

	if (p && elp_read_file(NULL, p, &data, NULL) == 0)
		*strchrnul(data, '\n') = '\0';
	free(p);
	return data;
}

static int read_int_rooted(struct elp_ctx *ctx, const char *path)
{
	char *s = read_line_rooted(ctx, path);
	int v = -1;

	if (s && *s)
		v = atoi(s);
	free(s);
	return v;
}

int elp_lp_running_release(struct elp_ctx *ctx, char **release)
{
	int err = elp_kernel_running_release(ctx, release);

	if (err == -ENOENT)
		elp_err(ctx, "cannot read the running kernel's release");
	return err;
}

/* --- libkmod ------------------------------------------------------------ */

static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	struct elp_ctx *ctx = data;
	char *msg;

	/* libkmod's own messages are detail: ours explain the failure */
	(void)priority;
	if (!ctx || elp_get_log_priority(ctx) < ELP_LOG_DEBUG)
		return;
	if (vasprintf(&msg, format, args) < 0)
		return;
	elp_log(ctx, ELP_LOG_DEBUG, file, line, fn, "libkmod: %s",
		elp_rstrip(msg));
	free(msg);
}

static struct kmod_ctx *kmod_open(struct elp_ctx *ctx)
{
	static const char *const no_config[] = { NULL };
	struct kmod_ctx *kctx = kmod_new(NULL, no_config);

	if (!kctx) {
		elp_err(ctx, "cannot initialise libkmod");
		return NULL;
	}
	kmod_set_log_fn(kctx, kmod_log, ctx);
	kmod_set_log_priority(kctx, 7);
	return kctx;
}

/*
 * The one place libkmod errors become messages.  what: "load", "unload";
 * subject: the module name or path.
 */
static int kmod_error(struct elp_ctx *ctx, const char *what,
		      const char *subject, int err)
{
	const char *why;

	switch (-err) {
	case ENOEXEC:
		why = "invalid module format (built for another kernel?)";
		break;
	case ENOENT:
	case ESRCH:
		why = "unknown symbol in module, or unknown parameter (see dmesg)";
		break;
	case EEXIST:
		why = "a module of that name is already loaded";
		break;
	case ENOKEY:
		why = "the kernel requires signatures and does not trust the module's (unsigned, or signed with a key the kernel does not know)";
		break;
	case EKEYREJECTED:
		why = "the kernel rejected the module's signature (key not trusted)";
		break;
	case EPERM:
		why = "operation not permitted (not root, or the kernel is locked down)";
		break;
	case EBUSY:
	case EAGAIN:
		why = "the module is in use";
		break;
	case EINVAL:
		why = "the kernel refused it (see dmesg for the livepatch's reason)";
		break;
	case ENODEV:
		why = "the livepatch could not be enabled (see dmesg)";
		break;
	default:
		why = strerror(-err);
	}
	elp_err(ctx, "cannot %s '%s': %s", what, subject, why);
	return err;
}

static bool is_elf(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
	close(fd);
	return ok;
}

void elp_module_info_free(struct elp_module_info *mi)
{
	if (!mi)
		return;
	free(mi->path);
	free(mi->name);
	free(mi->vermagic);
	free(mi->release);
	free(mi->signer);
	free(mi->sig_hashalgo);
	free(mi->build_id);
	while (mi->nr_versions)
		free(mi->versions[--mi->nr_versions].symbol);
	free(mi->versions);
	free(mi);
}

char *elp_module_file_build_id(const char *path)
{
	Elf_Scn *scn = NULL;
	char *id = NULL;
	Elf *e;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && !id && (scn = elf_nextscn(e, scn)) != NULL) {
		Elf_Data *d;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf)
			id = elp_notes_build_id(d->d_buf, d->d_size);
	}
	if (e)
		elf_end(e);
	close(fd);
	return id;
}

char *elp_module_loaded_build_id(struct elp_ctx *ctx, const char *name)
{
	char *p, *sys, *notes = NULL, *id = NULL;
	size_t len = 0;

	if (asprintf(&p, "/sys/module/%s/notes/.note.gnu.build-id", name) < 0)
		return NULL;
	sys = elp_rooted(ctx, p);
	free(p);
	if (sys && elp_read_file(NULL, sys, &notes, &len) == 0)
		id = elp_notes_build_id(notes, len);
	free(notes);
	free(sys);
	return id;
}

/* The module's __versions: what it was built against. */
static int read_versions(struct kmod_module *mod, struct elp_module_info *mi)
{
	struct kmod_list *list = NULL, *l;
	size_t n = 0;

	/* -ENOENT/-ENODATA: no __versions (CONFIG_MODVERSIONS off) */
	if (kmod_module_get_versions(mod, &list) < 0)
		return 0;
	kmod_list_foreach(l, list) n++;
	mi->versions = calloc(n ? n : 1, sizeof(*mi->versions));
	if (!mi->versions) {
		kmod_module_versions_free_list(list);
		return -ENOMEM;
	}
	kmod_list_foreach(l, list)
	{
		const char *sym = kmod_module_version_get_symbol(l);
		struct elp_modversion *v = &mi->versions[mi->nr_versions];

		if (!sym)
			continue;
		v->symbol = strdup(sym);
		if (!v->symbol)
			break;
		v->crc = kmod_module_version_get_crc(l);
		mi->nr_versions++;
	}
	kmod_module_versions_free_list(list);
	return 0;
}

int elp_module_info_read(struct elp_ctx *ctx, const char *path,
			 struct elp_module_info **out)
{
	struct kmod_list *info = NULL, *l;
	struct kmod_module *mod = NULL;
	struct elp_module_info *mi;
	struct kmod_ctx *kctx;
	int err;

	if (access(path, R_OK) < 0) {
		err = -errno;
		elp_err(ctx, "cannot read module '%s': %s", path,
			strerror(errno));
		return err;
	}
	if (!is_elf(path)) {
		elp_err(ctx, "'%s' is not a kernel module (not an ELF file)",
			path);
		return -ENOEXEC;
	}
	kctx = kmod_open(ctx);
	if (!kctx)
		return -ENOMEM;
	mi = calloc(1, sizeof(*mi));
	if (!mi) {
		kmod_unref(kctx);
		return -ENOMEM;
	}
	mi->path = strdup(path);
	err = kmod_module_new_from_path(kctx, path, &mod);
	if (err < 0) {
		elp_err(ctx, "cannot read module '%s': %s", path,
			strerror(-err));
		goto fail;
	}
	err = kmod_module_get_info(mod, &info);
	if (err < 0) {
		elp_err(ctx, "'%s' is not a kernel module (no modinfo: %s)",
			path, strerror(-err));
		err = -ENOEXEC;
		goto fail;
	}
	kmod_list_foreach(l, info)
	{
		const char *key = kmod_module_info_get_key(l);
		const char *value = kmod_module_info_get_value(l);

		if (!key || !value)
			continue;
		if (strcmp(key, "name") == 0 && !mi->name)
			mi->name = strdup(value);
		else if (strcmp(key, "vermagic") == 0 && !mi->vermagic)
			mi->vermagic = strdup(value);
		else if (strcmp(key, "livepatch") == 0)
			mi->livepatch = strcmp(value, "Y") == 0;
		else if (strcmp(key, "signer") == 0 && !mi->signer)
			mi->signer = strdup(value);
		else if (strcmp(key, "sig_hashalgo") == 0 && !mi->sig_hashalgo)
			mi->sig_hashalgo = strdup(value);
	}
	kmod_module_info_free_list(info);
	if (!mi->vermagic) {
		elp_err(ctx,
			"'%s' is not a kernel module (no vermagic in its modinfo)",
			path);
		err = -ENOEXEC;
		goto fail;
	}
	if (!mi->name)
		mi->name = strdup(kmod_module_get_name(mod));
	mi->release = strndup(mi->vermagic, strcspn(mi->vermagic, " "));
	mi->is_signed = elp_module_is_signed(path);
	mi->build_id = elp_module_file_build_id(path);
	err = read_versions(mod, mi);
	if (err)
		goto fail;
	kmod_module_unref(mod);
	kmod_unref(kctx);
	if (!mi->path || !mi->name || !mi->release) {
		elp_module_info_free(mi);
		return -ENOMEM;
	}
	*out = mi;
	return 0;
fail:
	if (mod)
		kmod_module_unref(mod);
	kmod_unref(kctx);
	elp_module_info_free(mi);
	return err;
}

int elp_lp_load(struct elp_ctx *ctx, const char *path,
		const struct elp_module_info *mi)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *kctx;
	int err;

	kctx = kmod_open(ctx);
	if (!kctx)
		return -ENOMEM;
	err = kmod_module_new_from_path(kctx, path, &mod);
	if (err < 0) {
		kmod_error(ctx, "load", path, err);
		goto out;
	}
	err = kmod_module_insert_module(mod, 0, NULL);
	if (err < 0)
		kmod_error(ctx, "load", mi ? mi->name : path, err);
	kmod_module_unref(mod);
out:
	kmod_unref(kctx);
	return err < 0 ? err : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int elp_lp_unload(struct elp_ctx *ctx, const char *name, long timeout_ms)
{
	long long deadline = elp_now_ms() + timeout_ms;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *kctx;
	int err;

	kctx = kmod_open(ctx);
	if (!kctx)
		return -ENOMEM;
	err = kmod_module_new_from_name(kctx, name, &mod);
	if (err < 0) {
		kmod_error(ctx, "unload", name, err);
		kmod_unref(kctx);
		return err;
	}
	for (;;) {
		err = kmod_module_remove_module(mod, KMOD_REMOVE_NOLOG);
		if (err == 0 || err == -ENOENT)
			break;
		/* the kernel frees a disabled patch asynchronously */
		if ((err != -EBUSY && err != -EAGAIN) ||
		    elp_now_ms() >= deadline)
			break;
		sleep_ms(100);
	}
	if (err == -ENOENT)
		err = 0; /* gone already */
	if (err < 0)
		kmod_error(ctx, "unload", name, err);
	kmod_module_unref(mod);
	kmod_unref(kctx);
	return err;
}

/* --- /sys/kernel/livepatch ------------------------------------------------ */

bool elp_lp_supported(struct elp_ctx *ctx)
{
	char *p = elp_rooted(ctx, "/sys/kernel/livepatch");
	bool ok = p && elp_is_dir(p);

	free(p);
	return ok;
}

bool elp_module_loaded(struct elp_ctx *ctx, const char *name)
{
	char *p, *sys;
	bool ok;

	if (asprintf(&p, "/sys/module/%s", name) < 0)
		return false;
	sys = elp_rooted(ctx, p);
	free(p);
	ok = sys && elp_is_dir(sys);
	free(sys);
	return ok;
}

static bool valid_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subdirectories of a directory, sorted; hidden ones skipped. */
static int list_dirs(const char *dir, char ***out, size_t *nr)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*nr = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *path;
		bool isdir;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			break;
		isdir = elp_is_dir(path);
		free(path);
		if (!isdir)
			continue;
		if (n == cap) {
			char **p = elp_grow(names, &cap, n + 1, sizeof(*p));

			if (!p)
				break;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*nr = n;
	return 0;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int read_object(const char *lpdir, const char *name,
		       struct elp_lp_object *obj)
{
	char *dir = NULL, *patched = NULL, **funcs = NULL;
	size_t n = 0, i;

	obj->name = strdup(name);
	if (!obj->name || asprintf(&dir, "%s/%s", lpdir, name) < 0)
		return -ENOMEM;
	if (asprintf(&patched, "%s/patched", dir) >= 0) {
		char *s = NULL;

		obj->patched = -1;
		if (elp_read_file(NULL, patched, &s, NULL) == 0)
			obj->patched = atoi(s);
		free(s);
		free(patched);
	}
	list_dirs(dir, &funcs, &n);
	free(dir);
	obj->funcs = calloc(n ? n : 1, sizeof(*obj->funcs));
	if (!obj->funcs) {
		free_names(funcs, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		char *comma = strrchr(funcs[i], ',');

		obj->funcs[i].sympos = 0;
		if (comma) {
			obj->funcs[i].sympos = atoi(comma + 1);
			*comma = '\0';
		}
		obj->funcs[i].name = funcs[i];
		funcs[i] = NULL;
	}
	obj->nr_funcs = n;
	free(funcs);
	return 0;
}

int elp_lp_read(struct elp_ctx *ctx, const char *name,
		struct elp_livepatch **out)
{
	char *rel = NULL, *dir = NULL, **objs = NULL;
	struct elp_livepatch *lp;
	size_t n = 0, i;
	int err = 0;

	if (!valid_name(name))
		return -ENOENT;
	if (asprintf(&rel, "/sys/kernel/livepatch/%s", name) < 0)
		return -ENOMEM;
	dir = elp_rooted(ctx, rel);
	if (!dir || !elp_is_dir(dir)) {
		free(rel);
		free(dir);
		return -ENOENT;
	}
	lp = calloc(1, sizeof(*lp));
	if (!lp) {
		err = -ENOMEM;
		goto out;
	}
	lp->name = strdup(name);
	{
		char attr[600];

		snprintf(attr, sizeof(attr), "%s/enabled", rel);
		lp->enabled = read_int_rooted(ctx, attr);
		snprintf(attr, sizeof(attr), "%s/transition", rel);
		lp->transition = read_int_rooted(ctx, attr);
	}
	list_dirs(dir, &objs, &n);
	lp->objects = calloc(n ? n : 1, sizeof(*lp->objects));
	if (!lp->name || !lp->objects) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		err = read_object(dir, objs[i], &lp->objects[i]);
		lp->nr_objects = i + 1;
		if (err)
			goto fail;
	}
	*out = lp;
	goto out;
fail:
	elp_err(ctx, "cannot read livepatch '%s': %s", name, strerror(-err));
	elp_lp_free(lp);
out:
	free_names(objs, n);
	free(rel);
	free(dir);
	return err;
}

void elp_lp_free(struct elp_livepatch *lp)
{
	size_t i, j;

	if (!lp)
		return;
	for (i = 0; i < lp->nr_objects; i++) {
		for (j = 0; j < lp->objects[i].nr_funcs; j++)
			free(lp->objects[i].funcs[j].name);
		free(lp->objects[i].funcs);
		free(lp->objects[i].name);
	}
	free(lp->objects);
	free(lp->name);
	free(lp);
}

void elp_lp_list_free(struct elp_livepatch **list, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		elp_lp_free(list[i]);
	free(list);
}

int elp_lp_list(struct elp_ctx *ctx, struct elp_livepatch ***out, size_t *nr)
{
	char *dir = elp_rooted(ctx, "/sys/kernel/livepatch");
	struct elp_livepatch **list;
	char **names = NULL;
	size_t n = 0, i, got = 0;
	int err;

	*out = NULL;
	*nr = 0;
	if (!dir)
		return -ENOMEM;
	err = list_dirs(dir, &names, &n);
	if (err) {
		elp_err(ctx,
			"cannot read '%s': %s (is CONFIG_LIVEPATCH enabled?)",
			dir, strerror(-err));
		free(dir);
		return err;
	}
	free(dir);
	list = calloc(n ? n : 1, sizeof(struct elp_livepatch *));
	if (!list) {
		free_names(names, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		/* a patch may vanish while we read: skip it */
		err = elp_lp_read(ctx, names[i], &list[got]);
		if (err == -ENOENT)
			continue;
		if (err) {
			elp_lp_list_free(list, got);
			free_names(names, n);
			return err;
		}
		got++;
	}
	free_names(names, n);
	*out = list;
	*nr = got;
	return 0;
}

int elp_lp_wait(struct elp_ctx *ctx, const char *name, long timeout_ms)
{
	long long deadline = elp_now_ms() + timeout_ms;
	char *rel;
	int err = -ETIMEDOUT;

	(void)ctx;
	if (asprintf(&rel, "/sys/kernel/livepatch/%s/transition", name) < 0)
		return -ENOMEM;
	for (;;) {
		char *dir = elp_rooted(ctx, rel);
		int t;

		if (dir)
			*strrchr(dir, '/') = '\0';
		if (!dir || !elp_is_dir(dir)) {
			free(dir);
			err = 0; /* a disabled patch is freed */
			break;
		}
		free(dir);
		t = read_int_rooted(ctx, rel);
		if (t == 0) {
			err = 0;
			break;
		}
		if (elp_now_ms() >= deadline)
			break;
		sleep_ms(50);
	}
	free(rel);
	return err;
}

int elp_lp_disable(struct elp_ctx *ctx, const char *name)
{
	char *path;
	int fd, err = 0;

	if (!valid_name(name))
		return -EINVAL;
	if (asprintf(&path, "/sys/kernel/livepatch/%s/enabled", name) < 0)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		err = -errno;
		elp_err(ctx, "cannot disable livepatch '%s' (%s): %s", name,
			path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return err;
}

/* --- tasks blocking a transition ------------------------------------------ */

void elp_lp_blockers_free(struct elp_lp_blocker *b, size_t nr)
{
	size_t i;

	for (i = 0; b && i < nr; i++) {
		free(b[i].comm);
		free(b[i].function);
		free(b[i].stack);
	}
	free(b);
}

/* A patched function named in a stack trace ("[<0>] name+0x1/0x2"). */
static char *patched_on_stack(const struct elp_livepatch *lp, const char *stack)
{
	const char *line = stack;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');
		const char *sym = memchr(line, ']', (size_t)(end - line));
		size_t i, j;

		if (sym) {
			size_t len;

			sym++;
			while (*sym == ' ')
				sym++;
			len = strcspn(sym, "+ \n");
			for (i = 0; i < lp->nr_objects; i++)
				for (j = 0; j < lp->objects[i].nr_funcs; j++) {
					const char *f =
						lp->objects[i].funcs[j].name;

					if (strlen(f) == len &&
					    strncmp(f, sym, len) == 0)
						return strdup(f);
				}
		}
		line = *end ? end + 1 : NULL;
	}
	return NULL;
}

int elp_lp_blockers(struct elp_ctx *ctx, const struct elp_livepatch *lp,
		    struct elp_lp_blocker **out, size_t *nr)
{
	/* the target of the transition: patched when enabling */
	int target = lp->enabled == 1 ? 1 : 0;
	struct elp_lp_blocker *list = NULL, *p;
	size_t n = 0, cap = 0;
	char *proc = elp_rooted(ctx, "/proc");
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*nr = 0;
	if (!proc)
		return -ENOMEM;
	d = opendir(proc);
	if (!d) {
		free(proc);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char *taskdir;
		struct dirent *te;
		DIR *td;

		if (!elp_all_digits(de->d_name, strlen(de->d_name)))
			continue;
		if (asprintf(&taskdir, "%s/%s/task", proc, de->d_name) < 0)
			break;
		td = opendir(taskdir);
		while (td && (te = readdir(td)) != NULL) {
			char *base, *s = NULL;
			int state = -1;

			if (!elp_all_digits(te->d_name, strlen(te->d_name)))
				continue;
			if (asprintf(&base, "%s/%s", taskdir, te->d_name) < 0)
				break;
			{
				char path[1024];

				snprintf(path, sizeof(path), "%s/patch_state",
					 base);
				if (elp_read_file(NULL, path, &s, NULL) == 0)
					state = atoi(s);
				free(s);
				s = NULL;
			}
			/* -1: no transition; unreadable: not root */
			if (state < 0 || state == target) {
				free(base);
				continue;
			}
			p = elp_grow(list, &cap, n + 1, sizeof(*p));
			if (!p) {
				free(base);
				break;
			}
			list = p;
			memset(&list[n], 0, sizeof(list[n]));
			list[n].pid = (pid_t)atoi(de->d_name);
			list[n].tid = (pid_t)atoi(te->d_name);
			{
				char path[1024];

				snprintf(path, sizeof(path), "%s/comm", base);
				if (elp_read_file(NULL, path, &s, NULL) == 0)
					list[n].comm = elp_rstrip(s);
				snprintf(path, sizeof(path), "%s/stack", base);
				s = NULL;
				if (elp_read_file(NULL, path, &s, NULL) == 0 &&
				    *s) {
					list[n].stack = s;
					list[n].function =
						patched_on_stack(lp, s);
				} else {
					free(s);
				}
			}
			free(base);
			n++;
		}
		if (td)
			closedir(td);
		free(taskdir);
	}
	closedir(d);
	free(proc);
	*out = list;
	*nr = n;
	return 0;
}

/* --- module signatures ------------------------------------------------------ */

int elp_lp_sig_enforced(struct elp_ctx *ctx, char **reason)
{
	char *s;

	*reason = NULL;
	s = read_line_rooted(ctx, "/sys/module/module/parameters/sig_enforce");
	if (s && (s[0] == 'Y' || s[0] == '1')) {
		free(s);
		*reason = strdup("module.sig_enforce=1");
		return 1;
	}
	free(s);
	/* "none [integrity] confidentiality" */
	s = read_line_rooted(ctx, "/sys/kernel/security/lockdown");
	if (s) {
		char *open = strchr(s, '['),
		     *close = open ? strchr(open, ']') : NULL;

		if (open && close && strncmp(open + 1, "none", 4) != 0) {
			*close = '\0';
			if (asprintf(reason, "the kernel is locked down (%s)",
				     open + 1) < 0)
				*reason = NULL;
			free(s);
			return 1;
		}
		free(s);
	}
	return 0;
}

void elp_lp_artefact_free(struct elp_lp_artefact *a)
{
	if (!a)
		return;
	elp_lp_build_free(a->build);
	elp_module_info_free(a->info);
	free(a->path);
	free(a);
}

static bool is_build_id(const char *spec, int64_t *id)
{
	char *end;
	long long v;

	if (!elp_all_digits(spec, strlen(spec)))
		return false;
	errno = 0;
	v = strtoll(spec, &end, 10);
	if (errno || *end || v <= 0)
		return false;
	*id = v;
	return true;
}

int elp_lp_artefact_open(struct elp_catalogue *cat, const char *spec,
			 bool allow_unknown, struct elp_lp_artefact **out)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_lp_artefact *a;
	int64_t id;
	int err;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (is_build_id(spec, &id) && !elp_is_file(spec)) {
		err = elp_lp_build_get(cat, id, &a->build);
		if (err == -ENOENT)
			elp_err(ctx, "no build '%s' in the catalogue", spec);
		if (err || !a->build)
			goto fail;
		if (!a->build->artefact_path || !a->build->artefact_sha256) {
			elp_err(ctx, "build %lld has no module (status: %s)",
				(long long)id, a->build->status);
			err = -ENOENT;
			goto fail;
		}
		a->path = strdup(a->build->artefact_path);
		if (!a->path) {
			err = -ENOMEM;
			goto fail;
		}
		err = elp_sha256_file(ctx, a->path, a->sha256);
		if (err)
			goto fail;
		if (strcmp(a->sha256, a->build->artefact_sha256) != 0) {
			elp_err(ctx,
				"module '%s' of build %lld does not match the catalogue (sha256 %.12s..., recorded %.12s...): it was changed after the build",
				a->path, (long long)id, a->sha256,
				a->build->artefact_sha256);
			err = -EBADMSG;
			goto fail;
		}
	} else {
		a->path = elp_abspath(spec);
		if (!a->path) {
			err = -errno;
			elp_err(ctx, "cannot read module '%s': %s", spec,
				strerror(errno));
			goto fail;
		}
		err = elp_sha256_file(ctx, a->path, a->sha256);
		if (err)
			goto fail;
		err = elp_lp_build_by_sha(cat, a->sha256, &a->build);
		if (err == -ENOENT) {
			struct elp_lp_build *b = NULL;

			if (elp_lp_build_by_path(cat, a->path, &b) == 0 && b) {
				elp_err(ctx,
					"module '%s' does not match build %lld in the catalogue (sha256 %.12s..., recorded %.12s...): it was changed after the build",
					a->path, (long long)b->id, a->sha256,
					b->artefact_sha256 ? b->artefact_sha256
							   : "none");
				elp_lp_build_free(b);
				err = -EBADMSG;
				goto fail;
			}
		} else if (err) {
			goto fail;
		}
	}
	err = elp_module_info_read(ctx, a->path, &a->info);
	if (err)
		goto fail;
	if (!a->info->livepatch) {
		elp_err(ctx,
			"'%s' is not a livepatch module (no 'livepatch=Y' in its modinfo)",
			a->path);
		err = -ENOEXEC;
		goto fail;
	}
	if (!a->build) {
		*out = allow_unknown ? a : NULL;
		if (!allow_unknown)
			elp_lp_artefact_free(a);
		return -ENOENT;
	}
	*out = a;
	return 0;
fail:
	elp_lp_artefact_free(a);
	return err;
}
