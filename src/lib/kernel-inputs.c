// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a kernel record is made of, found and checked before it is recorded:
 * the config, the image's release, the modules tree (looked up through
 * libkmod), a source dir the kernel was built in and the defaults beside
 * the image.  The symbol table is kernel-symbols.c's.
 */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <libkmod.h>

#include "kernel.h"
#include "util.h"

char *elp_config_get(const char *config, const char *option)
{
	size_t optlen = strlen(option);
	const char *line = config;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');

		if ((size_t)(end - line) > optlen &&
		    strncmp(line, option, optlen) == 0 && line[optlen] == '=') {
			const char *v = line + optlen + 1;
			size_t len = (size_t)(end - v);

			if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
				v++;
				len -= 2;
			}
			return strndup(v, len);
		}
		line = *end ? end + 1 : NULL;
	}
	return NULL;
}

int elp_kernel_set_config(struct elp_kernel *k, const char *config)
{
	char sha[ELP_SHA256_HEX_LEN + 1];
	char *livepatch;

	if (!config)
		return -EINVAL;
	free(k->config);
	free(k->config_sha256);
	free(k->cc_version_text);
	k->config = strdup(config);
	if (!k->config)
		return -ENOMEM;
	elp_sha256_hex(config, strlen(config), sha);
	k->config_sha256 = strdup(sha);
	k->cc_version_text = elp_config_get(config, "CONFIG_CC_VERSION_TEXT");
	livepatch = elp_config_get(config, "CONFIG_LIVEPATCH");
	k->livepatch = livepatch && strcmp(livepatch, "y") == 0;
	free(livepatch);
	return k->config_sha256 ? 0 : -ENOMEM;
}

int elp_config_read(struct elp_ctx *ctx, const char *path, char **config)
{
	char *data = NULL;
	int err;

	err = elp_read_any(ctx, path, "config", &data, NULL);
	if (err)
		return err;
	if (!data || !strstr(data, "CONFIG_")) {
		elp_err(ctx, "'%s' is not a kernel config (no CONFIG_ lines)",
			path);
		free(data);
		return -EINVAL;
	}
	*config = data;
	return 0;
}

const char *const elp_kernel_input_names[ELP_KERNEL_NR_INPUTS] = {
	"config", "symbols", "source", "build", "image", "modules",
};

int elp_kernel_set_origin(struct elp_kernel *k, enum elp_kernel_input input,
			  const char *path, const char *origin,
			  const char *sha256)
{
	struct elp_kernel_origin *o = &k->inputs[input];

	free(o->path);
	free(o->origin);
	free(o->sha256);
	o->path = path ? strdup(path) : NULL;
	o->origin = strdup(origin);
	o->sha256 = sha256 ? strdup(sha256) : NULL;
	if ((path && !o->path) || !o->origin || (sha256 && !o->sha256))
		return -ENOMEM;
	return 0;
}

/* libarchive's "raw" format reads plain and compressed single files alike. */
static int read_archive(struct elp_ctx *ctx, struct archive *a,
			const char *name, const char *what, char **data,
			size_t *len)
{
	struct archive_entry *entry;
	struct elp_buf buf = { 0 };
	char chunk[65536];
	la_ssize_t n;
	int err = 0;

	if (archive_read_next_header(a, &entry) != ARCHIVE_OK) {
		elp_err(ctx, "cannot read %s '%s': %s", what, name,
			archive_error_string(a));
		return archive_errno(a) > 0 ? -archive_errno(a) : -EIO;
	}
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		err = elp_buf_append(&buf, chunk, (size_t)n);
		if (err)
			break;
	}
	if (!err && n < 0) {
		elp_err(ctx, "cannot read %s '%s': %s", what, name,
			archive_error_string(a));
		err = -EIO;
	}
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

static struct archive *raw_reader(void)
{
	struct archive *a = archive_read_new();

	if (a) {
		archive_read_support_filter_all(a);
		archive_read_support_format_raw(a);
	}
	return a;
}

int elp_read_any(struct elp_ctx *ctx, const char *path, const char *what,
		 char **data, size_t *len)
{
	struct archive *a = raw_reader();
	int err;

	if (!a)
		return -ENOMEM;
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		elp_err(ctx, "cannot read %s '%s': %s", what, path,
			archive_error_string(a));
		err = archive_errno(a) > 0 ? -archive_errno(a) : -EIO;
	} else {
		err = read_archive(ctx, a, path, what, data, len);
	}
	archive_read_free(a);
	return err;
}

/* --- the image --------------------------------------------------------------- */

/*
 * x86 boot protocol: "HdrS" at 0x202, and from version 2.00 a pointer at
 * 0x20e (relative to 0x200) to a string that starts with the release.
 */
static char *bzimage_release(const unsigned char *img, size_t len)
{
	size_t off, end;

	if (len < 0x210 || memcmp(img + 0x202, "HdrS", 4) != 0 ||
	    (img[0x206] | img[0x207] << 8) < 0x200)
		return NULL;
	off = 0x200 + (size_t)(img[0x20e] | img[0x20f] << 8);
	if (off >= len)
		return NULL;
	for (end = off; end < len && img[end] > ' ' && img[end] < 0x7f; end++)
		;
	return end > off ? strndup((const char *)img + off, end - off) : NULL;
}

int elp_kernel_set_image(struct elp_ctx *ctx, struct elp_kernel *k,
			 const char *path, const char *origin)
{
	char sha[ELP_SHA256_HEX_LEN + 1];
	char *data = NULL, *release = NULL, *abs = NULL;
	size_t len = 0;
	int err;

	err = elp_read_file(ctx, path, &data, &len);
	if (err)
		return err;
	release = bzimage_release((unsigned char *)data, len);
	if (!release) {
		elp_err(ctx,
			"'%s' is not a kernel image (no x86 boot header with a version string)",
			path);
		err = -EINVAL;
		goto out;
	}
	if (k->release && strcmp(release, k->release) != 0) {
		elp_err(ctx, "kernel image '%s' is release %s, not %s", path,
			release, k->release);
		err = -EINVAL;
		goto out;
	}
	if (!k->release) {
		k->release = release;
		release = NULL;
	}
	elp_sha256_hex(data, len, sha);
	abs = elp_abspath(path);
	free(k->image_path);
	k->image_path = abs ? strdup(abs) : NULL;
	err = k->image_path ? elp_kernel_set_origin(k, ELP_KERNEL_IMAGE, abs,
						    origin, sha)
			    : -ENOMEM;
out:
	free(abs);
	free(release);
	free(data);
	return err;
}

/* --- modules ----------------------------------------------------------------- */

static void kmod_quiet(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	struct elp_ctx *ctx = data;
	char *msg;

	(void)priority;
	if (!ctx || elp_get_log_priority(ctx) < ELP_LOG_DEBUG ||
	    vasprintf(&msg, format, args) < 0)
		return;
	elp_log(ctx, ELP_LOG_DEBUG, file, line, fn, "libkmod: %s",
		elp_rstrip(msg));
	free(msg);
}

/* libkmod on a modules tree, without the host's modprobe.d. */
static struct kmod_ctx *kmod_tree(struct elp_ctx *ctx, const char *dir)
{
	static const char *const no_config[] = { NULL };
	struct kmod_ctx *kctx = kmod_new(dir, no_config);

	if (!kctx) {
		elp_err(ctx, "cannot open modules tree '%s' with libkmod", dir);
		return NULL;
	}
	kmod_set_log_fn(kctx, kmod_quiet, ctx);
	return kctx;
}

/* The release in a module's vermagic: "6.1.0-57-amd64 SMP preempt ...". */
static char *module_release(struct kmod_ctx *kctx, const char *path)
{
	struct kmod_list *info = NULL, *l;
	struct kmod_module *mod = NULL;
	char *release = NULL;

	if (kmod_module_new_from_path(kctx, path, &mod) < 0)
		return NULL;
	if (kmod_module_get_info(mod, &info) >= 0) {
		kmod_list_foreach(l, info)
		{
			const char *key = kmod_module_info_get_key(l);
			const char *value = kmod_module_info_get_value(l);

			if (key && value && !strcmp(key, "vermagic")) {
				release = strndup(value, strcspn(value, " "));
				break;
			}
		}
		kmod_module_info_free_list(info);
	}
	kmod_module_unref(mod);
	return release;
}

/* The first module of modules.dep, as a path. */
static char *first_module(const char *tree)
{
	char *dep = NULL, *text = NULL, *path = NULL;

	if (asprintf(&dep, "%s/modules.dep", tree) < 0)
		return NULL;
	if (elp_read_file(NULL, dep, &text, NULL) == 0) {
		size_t n = strcspn(text, ":\n");

		if (n && text[n] == ':' &&
		    asprintf(&path, "%s/%.*s", tree, (int)n, text) < 0)
			path = NULL;
	}
	free(text);
	free(dep);
	return path;
}

static int check_modules(struct elp_ctx *ctx, const char *release,
			 const char *given, const char *tree)
{
	struct kmod_ctx *kctx;
	char *dep = NULL, *ko = NULL, *modrel = NULL;
	int err = 0;

	if (asprintf(&dep, "%s/modules.dep", tree) < 0)
		return -ENOMEM;
	if (!elp_is_file(dep)) {
		elp_err(ctx,
			"modules tree '%s' has no modules.dep; run 'depmod -b ROOT %s' on it",
			given, release);
		free(dep);
		return -ENOENT;
	}
	free(dep);
	ko = first_module(tree);
	kctx = ko ? kmod_tree(ctx, tree) : NULL;
	modrel = kctx ? module_release(kctx, ko) : NULL;
	if (!modrel) {
		elp_err(ctx,
			"modules tree '%s': cannot read the vermagic of its first module ('%s')",
			given, ko ? ko : "none in modules.dep");
		err = -EINVAL;
	} else if (strcmp(modrel, release) != 0) {
		elp_err(ctx,
			"modules tree '%s' is for release %s, not %s (vermagic of '%s')",
			given, modrel, release, ko);
		err = -EINVAL;
	}
	free(modrel);
	free(ko);
	if (kctx)
		kmod_unref(kctx);
	return err;
}

int elp_kernel_set_modules(struct elp_ctx *ctx, struct elp_kernel *k,
			   const char *dir, const char *origin)
{
	char *abs = elp_abspath(dir), *tree = NULL;
	int err;

	if (!abs || !elp_is_dir(abs)) {
		elp_err(ctx, "cannot use modules tree '%s': not a directory",
			dir);
		free(abs);
		return -ENOENT;
	}
	/* a root that has lib/modules/RELEASE, or that directory itself */
	if (asprintf(&tree, "%s/lib/modules/%s", abs, k->release) < 0) {
		free(abs);
		return -ENOMEM;
	}
	if (!elp_is_dir(tree)) {
		free(tree);
		tree = abs;
		abs = NULL;
	}
	err = check_modules(ctx, k->release, dir, tree);
	if (!err)
		err = elp_kernel_set_origin(k, ELP_KERNEL_MODULES, tree, origin,
					    NULL);
	if (!err) {
		free(k->modules_dir);
		k->modules_dir = tree;
		tree = NULL;
	}
	free(tree);
	free(abs);
	return err;
}

/* "<root>/boot/vmlinuz-R" -> "<root>/lib/modules/R", by the marker. */
static char *beside(const char *path, const char *marker, const char *release)
{
	const char *m = path ? strstr(path, marker) : NULL;
	char *p;

	if (!m || asprintf(&p, "%.*s/lib/modules/%s", (int)(m - path), path,
			   release) < 0)
		return NULL;
	return p;
}

int elp_kernel_find_modules(struct elp_ctx *ctx, struct elp_kernel *k)
{
	char lib[512];
	struct {
		char *dir;
		const char *origin;
	} c[4] = {
		{ beside(k->image_path, "/boot/", k->release),
		  "the image's package root" },
		{ beside(k->config_path, "/boot/", k->release),
		  "the config's package root" },
		{ beside(k->build_dir, "/usr/src/", k->release),
		  "beside the headers" },
		{ NULL, "/lib/modules/RELEASE" },
	};
	size_t i;
	int err = -ENOENT;

	snprintf(lib, sizeof(lib), "/lib/modules/%s", k->release);
	c[3].dir = elp_rooted(ctx, lib);
	for (i = 0; i < 4 && err == -ENOENT; i++) {
		char *dep = NULL;

		if (!c[i].dir || asprintf(&dep, "%s/modules.dep", c[i].dir) < 0)
			continue;
		if (elp_is_file(dep))
			err = elp_kernel_set_modules(ctx, k, c[i].dir,
						     c[i].origin);
		else if (elp_is_dir(c[i].dir))
			elp_warn(
				ctx,
				"not using modules tree '%s': no modules.dep (run depmod on it, or pass --modules)",
				c[i].dir);
		free(dep);
	}
	for (i = 0; i < 4; i++)
		free(c[i].dir);
	return err;
}

static bool same_modname(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b &&
		    !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

int elp_kernel_module_path(struct elp_ctx *ctx, const struct elp_kernel *k,
			   const char *modname, char **path)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *kctx;
	const char *dir = k->modules_dir;
	char *lib = NULL;
	int err = -ENOENT;

	*path = NULL;
	if (!dir) {
		char rel[512];

		snprintf(rel, sizeof(rel), "/lib/modules/%s", k->release);
		lib = elp_rooted(ctx, rel);
		dir = lib;
	}
	if (!dir || !elp_is_dir(dir)) {
		elp_err(ctx,
			"no modules tree for %s: %s.ko not found (no %s); pass --modules to 'elivepatch kernel add'",
			k->release, modname, dir ? dir : "modules directory");
		free(lib);
		return -ENOENT;
	}
	kctx = kmod_tree(ctx, dir);
	if (kctx && kmod_module_new_from_lookup(kctx, modname, &list) >= 0) {
		kmod_list_foreach(l, list)
		{
			struct kmod_module *mod = kmod_module_get_module(l);
			const char *p = kmod_module_get_path(mod);

			if (!*path && p &&
			    same_modname(kmod_module_get_name(mod), modname)) {
				*path = strdup(p);
				err = *path ? 0 : -ENOMEM;
			}
			kmod_module_unref(mod);
		}
		kmod_module_unref_list(list);
	}
	if (kctx)
		kmod_unref(kctx);
	if (err == -ENOENT)
		elp_err(ctx,
			"no modules tree for %s: %s.ko not found under '%s'; pass --modules to 'elivepatch kernel add'",
			k->release, modname, dir);
	free(lib);
	return err;
}

/* --- a source directory the kernel was built in ------------------------------ */

/* include/config/kernel.release, else UTS_RELEASE of utsrelease.h */
static char *built_release(const char *dir)
{
	char *path = NULL, *text = NULL, *release = NULL;

	if (asprintf(&path, "%s/include/config/kernel.release", dir) < 0)
		return NULL;
	if (elp_read_file(NULL, path, &text, NULL) == 0) {
		elp_rstrip(text);
		if (*text)
			release = strdup(text);
	}
	free(text);
	free(path);
	text = NULL;
	if (release ||
	    asprintf(&path, "%s/include/generated/utsrelease.h", dir) < 0)
		return release;
	if (elp_read_file(NULL, path, &text, NULL) == 0) {
		char *q = strstr(text, "UTS_RELEASE \"");

		if (q) {
			q += strlen("UTS_RELEASE \"");
			release = strndup(q, strcspn(q, "\"\n"));
		}
	}
	free(text);
	free(path);
	return release;
}

int elp_kernel_use_built_source(struct elp_ctx *ctx, struct elp_kernel *k,
				const char *dir)
{
	char *release = built_release(dir), *path = NULL;
	int err = 0;

	if (!release)
		return 0;
	if (k->release && strcmp(k->release, release) != 0) {
		elp_err(ctx,
			"kernel source '%s' is built for release %s, not %s",
			dir, release, k->release);
		free(release);
		return -EINVAL;
	}
	if (!k->release) {
		k->release = release;
		release = NULL;
	}
	free(release);
	if (!k->config && asprintf(&path, "%s/.config", dir) > 0 &&
	    elp_is_file(path)) {
		char *config = NULL;

		err = elp_config_read(ctx, path, &config);
		if (!err)
			err = elp_kernel_set_config(k, config);
		free(config);
		if (!err) {
			k->config_path = path;
			path = NULL;
			err = elp_kernel_set_origin(
				k, ELP_KERNEL_CONFIG, k->config_path,
				"the source dir's .config", k->config_sha256);
		}
	}
	free(path);
	path = NULL;
	/* modules link against the tree the kernel was built in */
	if (!err && !k->build_dir &&
	    asprintf(&path, "%s/Module.symvers", dir) > 0 &&
	    elp_is_file(path)) {
		k->build_dir = elp_abspath(dir);
		err = k->build_dir
			      ? elp_kernel_set_origin(
					k, ELP_KERNEL_BUILD, k->build_dir,
					"the source dir (built in place)", NULL)
			      : -ENOMEM;
	}
	free(path);
	return err ? err : 1;
}

/* --- defaults from the image's package root ---------------------------------- */

/* "<root>/boot/vmlinuz-R" -> "<root>/boot/<name>-R" */
static char *beside_image(const struct elp_kernel *k, const char *name)
{
	char *img, *p = NULL;

	if (!k->image_path)
		return NULL;
	img = strdup(k->image_path);
	if (img && asprintf(&p, "%s/%s-%s", dirname(img), name, k->release) < 0)
		p = NULL;
	free(img);
	return p;
}

int elp_kernel_find_config(struct elp_ctx *ctx, struct elp_kernel *k)
{
	char *path = beside_image(k, "config"), *config = NULL;
	int err;

	if (!path || !elp_is_file(path)) {
		free(path);
		return -ENOENT;
	}
	err = elp_config_read(ctx, path, &config);
	if (!err)
		err = elp_kernel_set_config(k, config);
	free(config);
	if (!err) {
		free(k->config_path);
		k->config_path = path;
		path = NULL;
		err = elp_kernel_set_origin(
			k, ELP_KERNEL_CONFIG, k->config_path,
			"config-RELEASE beside the image", k->config_sha256);
	}
	free(path);
	return err;
}

int elp_kernel_find_build(struct elp_ctx *ctx, struct elp_kernel *k)
{
	char build[512];
	struct {
		char *dir;
		const char *origin;
	} c[2] = {
		{ beside(k->image_path, "/boot/", k->release),
		  "the image's package root" },
		{ NULL, "/lib/modules/RELEASE/build" },
	};
	size_t i;
	int err = -ENOENT;

	/* <root>/lib/modules/R -> <root>/usr/src/linux-headers-R */
	if (c[0].dir) {
		char *lib = strstr(c[0].dir, "/lib/modules/"), *p = NULL;

		if (lib &&
		    asprintf(&p, "%.*s/usr/src/linux-headers-%s",
			     (int)(lib - c[0].dir), c[0].dir, k->release) < 0)
			p = NULL;
		free(c[0].dir);
		c[0].dir = p;
	}
	snprintf(build, sizeof(build), "/lib/modules/%s/build", k->release);
	c[1].dir = elp_rooted(ctx, build);
	for (i = 0; i < 2 && err == -ENOENT; i++) {
		char *real = c[i].dir ? elp_abspath(c[i].dir) : NULL;
		char *symvers = NULL;

		if (real && asprintf(&symvers, "%s/Module.symvers", real) > 0 &&
		    elp_is_file(symvers)) {
			free(k->build_dir);
			k->build_dir = real;
			real = NULL;
			err = elp_kernel_set_origin(k, ELP_KERNEL_BUILD,
						    k->build_dir, c[i].origin,
						    NULL);
		}
		free(symvers);
		free(real);
	}
	for (i = 0; i < 2; i++)
		free(c[i].dir);
	(void)ctx;
	return err;
}
