/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ELP_KERNEL_H
#define ELP_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"

/* What a kernel record is made of; each has a path, an origin and a sha256. */
enum elp_kernel_input {
	ELP_KERNEL_CONFIG,
	ELP_KERNEL_SYMBOLS,
	ELP_KERNEL_SOURCE,
	ELP_KERNEL_BUILD,
	ELP_KERNEL_IMAGE,
	ELP_KERNEL_MODULES,
	ELP_KERNEL_NR_INPUTS,
};
/* "config", "symbols", "source", "build", "image", "modules" */
extern const char *const elp_kernel_input_names[ELP_KERNEL_NR_INPUTS];

struct elp_kernel_origin {
	char *path; /* the file or directory read (symbols: the original) */
	char *origin; /* how it was found: "--symbols", "/boot/System.map-RELEASE" */
	char *sha256; /* of its content, for files; NULL for directories */
};

struct elp_kernel {
	int64_t id; /* 0 until stored */
	char *name;
	char *release;
	char *version_text; /* /proc/version */
	char *arch;
	char *source; /* source directory or tarball */
	char *source_kind; /* "dir" or "tarball" */
	char *build_dir; /* kbuild dir modules link against (headers) */
	char *config_path;
	char *config; /* the whole .config text */
	char *config_sha256;
	char *cc_version_text; /* CONFIG_CC_VERSION_TEXT */
	char *build_id; /* vmlinux GNU build-id, hex */
	char *symbols_path; /* the snapshot in the store, once stored */
	char *symbols_sha256; /* of the snapshot's uncompressed text */
	char *image_path; /* vmlinuz, for booting it in qemu */
	char *modules_dir; /* modules tree (lib/modules/RELEASE, modules.dep) */
	bool livepatch; /* CONFIG_LIVEPATCH=y */
	int64_t created_at;
	/* where each input came from: set when found, loaded by find */
	struct elp_kernel_origin inputs[ELP_KERNEL_NR_INPUTS];
	/* a symbol table read and checked, snapshotted by elp_kernel_store */
	char *symbols_text;
	size_t symbols_len;
};

/*
 * Describe the running kernel.  Paths are read under the context's ELP_SET_ROOT
 * when set (containers, tests); uname is only used without it.
 */
int elp_kernel_detect(struct elp_ctx *ctx, struct elp_kernel **out);

/*
 * The config (kernel-inputs.c): fill config, config_sha256, cc_version_text,
 * livepatch from text.
 */
int elp_kernel_set_config(struct elp_kernel *k, const char *config);
/* Value of CONFIG_X in a .config text ("y", "\"text\"" unquoted), or NULL. */
char *elp_config_get(const char *config, const char *option);
/* Read a .config, plain or compressed (e.g. /proc/config.gz), libarchive. */
int elp_config_read(struct elp_ctx *ctx, const char *path, char **config);

/* A kernel source directory or tarball?  Logs why not. */
int elp_kernel_check_source(struct elp_ctx *ctx, const char *source,
			    const char **kind);

/*
 * Record the kernel; a symbol table read into symbols_text is first copied
 * into the store (<catalogue dir>/symbols/<sha256>.gz) and symbols_path
 * and symbols_sha256 then name the snapshot.
 */
int elp_kernel_store(struct elp_catalogue *cat, struct elp_kernel *k);
/* By name, then numeric id, then release when unique. */
int elp_kernel_find(struct elp_catalogue *cat, const char *spec,
		    struct elp_kernel **out);
/*
 * The kernel a build is for: spec from the catalogue; without spec, the
 * running kernel's entry or, when it has none and detected_ok, the running
 * kernel as detected (id 0).  Logs on ctx why it is not found (-ENOENT).
 */
int elp_kernel_for_build(struct elp_catalogue *cat, struct elp_ctx *ctx,
			 const char *spec, bool detected_ok,
			 struct elp_kernel **out);
typedef int (*elp_kernel_cb)(const struct elp_kernel *k, void *data);
int elp_kernel_foreach(struct elp_catalogue *cat, elp_kernel_cb cb, void *data);
/* Number of builds that reference the kernel. */
int elp_kernel_count_builds(struct elp_catalogue *cat, int64_t kernel_id);
int elp_kernel_remove(struct elp_catalogue *cat, const struct elp_kernel *k);
/* Out-of-tree patches the kernel was built with, in order. */
int elp_kernel_patch_ids(struct elp_catalogue *cat, int64_t kernel_id,
			 int64_t **ids, size_t *nr);
int elp_kernel_append_patch(struct elp_catalogue *cat, int64_t kernel_id,
			    int64_t patch_id);
/*
 * 1 when the kernel was built with an out-of-tree patch named name (or
 * KERNEL:name, as kernel add names them), 0 not, -errno.
 */
int elp_kernel_has_patch(struct elp_catalogue *cat, int64_t kernel_id,
			 const char *name);
void elp_kernel_free(struct elp_kernel *k);

/* --- the running kernel (kernel-running.c) ------------------------------- */

/* The running kernel's release (uname -r, or the ELP_SET_ROOT's osrelease). */
int elp_kernel_running_release(struct elp_ctx *ctx, char **release);
/* Its release and arch into k->release, k->arch (uname, or the root's). */
int elp_kernel_running_identity(struct elp_ctx *ctx, struct elp_kernel *k);
/* Its /proc/version line, or NULL. */
char *elp_kernel_running_version(struct elp_ctx *ctx);
/* Its vmlinux build-id (/sys/kernel/notes), hex, or NULL. */
char *elp_kernel_running_build_id(struct elp_ctx *ctx);
/* The NT_GNU_BUILD_ID of a block of ELF notes, hex, or NULL. */
char *elp_notes_build_id(const void *notes, size_t len);

/* The origin of a symbol table read from the running kernel. */
#define ELP_KERNEL_LIVE_SYMBOLS "/proc/kallsyms of the running kernel"

/* --- inputs (kernel-inputs.c) --------------------------------------------- */

/*
 * A source directory the kernel was built in (Gentoo: make in
 * /usr/src/linux-X): its release (include/config/kernel.release), its
 * .config unless k has a config, and itself as build dir when it has
 * Module.symvers and k has none.  Nothing is written there.  1 when dir is
 * such a tree, 0 when it is a plain source tree.
 */
int elp_kernel_use_built_source(struct elp_ctx *ctx, struct elp_kernel *k,
				const char *dir);

/* A file's whole content, plain or compressed (gzip, xz, zstd...). */
int elp_read_any(struct elp_ctx *ctx, const char *path, const char *what,
		 char **data, size_t *len);

/* Record where an input came from; sha256 may be NULL. */
int elp_kernel_set_origin(struct elp_kernel *k, enum elp_kernel_input input,
			  const char *path, const char *origin,
			  const char *sha256);

/* --- the symbol table (kernel-symbols.c; derived in qemu: kernel-boot.c) -- */

/*
 * Read a symbol table (kallsyms or System.map format, plain or compressed)
 * into symbols_text after checking it: a System.map stub ("The real
 * System.map is in the linux-image-...-dbg package"), a file of other lines
 * and a table of zero addresses (read without privilege) are refused with
 * the reason.  shown (NULL: path) is the path recorded and named in errors.
 */
int elp_kernel_read_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			    const char *path, const char *shown,
			    const char *origin);

/*
 * Derive the symbol table by booting k's image in qemu (TCG) and reading
 * its /proc/kallsyms, checked against the release (/proc/version); also
 * fills version_text and build_id when unset.  The console's table is kept
 * in cache_dir, keyed by the image's sha256, for the next time.
 */
int elp_kernel_derive_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			      const char *cache_dir);

/*
 * Look for the kernel's symbol table where users have it, in order:
 * System.map in the build dir, System.map in the source dir,
 * /boot/System.map-RELEASE, /proc/kallsyms when the release is the running
 * kernel's (checked against /proc/version).  A stub is skipped with a
 * warning.  -ENOENT (not logged) when there is none.
 */
int elp_kernel_find_symbols(struct elp_ctx *ctx, struct elp_kernel *k);

/* Copy symbols_text into the store; sets symbols_path and symbols_sha256. */
int elp_kernel_snapshot_symbols(struct elp_catalogue *cat,
				struct elp_kernel *k);

/*
 * The stored symbol table, checked against its recorded sha256, written to
 * dest.  A missing or altered snapshot is an error naming it.
 */
int elp_kernel_symbols_extract(struct elp_ctx *ctx, const struct elp_kernel *k,
			       const char *dest);

/* --- the image, the modules tree, defaults (kernel-inputs.c) ------------- */

/*
 * The release of a kernel image (bzImage's kernel_version string), checked
 * against k->release when that is set, and its sha256 recorded.
 */
int elp_kernel_set_image(struct elp_ctx *ctx, struct elp_kernel *k,
			 const char *path, const char *origin);

/*
 * Check k against its image, else the vmlinux of its build or source dir,
 * when it has one (kernel-image.c): a symbol
 * table read from /proc/kallsyms must come with the image's build-id in
 * /sys/kernel/notes, and any table's linux_banner must point at the image's
 * "Linux version RELEASE " (a KASLR offset is allowed for).  The image's
 * build-id is recorded when k has none.  An image that cannot be unpacked
 * is warned about and not checked.
 */
int elp_kernel_check_image(struct elp_ctx *ctx, struct elp_kernel *k);

/*
 * Defaults from the image's package root, -ENOENT (not logged) when there
 * is none: the config (config-RELEASE beside the image) and the kbuild dir
 * modules link against (ROOT/usr/src/linux-headers-RELEASE, else
 * /lib/modules/RELEASE/build; it must have Module.symvers).
 */
int elp_kernel_find_config(struct elp_ctx *ctx, struct elp_kernel *k);
int elp_kernel_find_build(struct elp_ctx *ctx, struct elp_kernel *k);

/*
 * A modules tree for k->release: dir is lib/modules/RELEASE itself or a root
 * that has it; it must have modules.dep (depmod) and its modules must carry
 * the release in their vermagic.
 */
int elp_kernel_set_modules(struct elp_ctx *ctx, struct elp_kernel *k,
			   const char *dir, const char *origin);
/*
 * The default modules tree: beside the image, the config or the headers
 * (a package root's lib/modules/RELEASE), else /lib/modules/RELEASE.
 * -ENOENT (not logged) when none is usable.
 */
int elp_kernel_find_modules(struct elp_ctx *ctx, struct elp_kernel *k);
/*
 * The path of module modname (KBUILD_MODNAME) of the kernel, looked up
 * through libkmod in its modules tree (modules.dep).  -ENOENT, logged as
 * "no modules tree for RELEASE: NAME.ko not found under DIR; pass
 * --modules", when it is not there.
 */
int elp_kernel_module_path(struct elp_ctx *ctx, const struct elp_kernel *k,
			   const char *modname, char **path);

#endif
