/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ELP_KERNEL_H
#define ELP_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"

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
	char *symbols_path; /* kallsyms-format symbol table */
	char *image_path; /* vmlinuz, for booting it in qemu */
	bool livepatch; /* CONFIG_LIVEPATCH=y */
	int64_t created_at;
};

/*
 * Describe the running kernel.  Paths are read under $ELIVEPATCH_ROOT when
 * set (containers, tests); uname is only used without it.
 */
int elp_kernel_detect(struct elp_ctx *ctx, struct elp_kernel **out);

/* Fill config, config_sha256, cc_version_text, livepatch from text. */
int elp_kernel_set_config(struct elp_kernel *k, const char *config);
/* Value of CONFIG_X in a .config text ("y", "\"text\"" unquoted), or NULL. */
char *elp_config_get(const char *config, const char *option);
/* Read a .config, plain or compressed (e.g. /proc/config.gz), libarchive. */
int elp_config_read(struct elp_ctx *ctx, const char *path, char **config);

/* A kernel source directory or tarball?  Logs why not. */
int elp_kernel_check_source(struct elp_ctx *ctx, const char *source,
			    const char **kind);

int elp_kernel_store(struct elp_catalogue *cat, struct elp_kernel *k);
/* By name, then numeric id, then release when unique. */
int elp_kernel_find(struct elp_catalogue *cat, const char *spec,
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
void elp_kernel_free(struct elp_kernel *k);

#endif
