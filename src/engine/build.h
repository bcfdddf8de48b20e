/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The build driver: from a catalogued kernel and one or more source patches
 * to a livepatch module, as a list of named passes (resolve, tree, apply,
 * compile, diff, module, record), each timed into build_stages.
 *
 * Like the rest of the library it never prints or exits: messages go to the
 * catalogue's context (and to the build's log file), errors are returned.
 * All inputs are explicit so that a remote builder or a job queue can call
 * elp_build() the same way the CLI does.
 */
#ifndef ELP_BUILD_H
#define ELP_BUILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/catalogue.h"
#include "../lib/elp.h"

/* Bumped when the engine's output for the same inputs may change: no
 * earlier build (module or refusal) is reused across it.  elp-build-8:
 * functions always on some task's stack (schedule, kthread...) refused. */
#define ELP_BUILD_ENGINE_VERSION "elp-build-8"
/* Bumped when a prepared tree or the original objects compiled in it may
 * change: every tree and original object is made anew across it. */
#define ELP_BUILD_TREE_VERSION "elp-build-6"

#define ELP_BUILD_CUMULATIVE_GIVEN 2

struct elp_build_options {
	/* catalogue spec (name, id, release); NULL: the running kernel */
	const char *kernel;
	/* catalogue names/ids of livepatch patches, or paths of patch files
	 * (catalogued on the fly); applied in order */
	const char *const *patches;
	size_t nr_patches;
	const char *name; /* module name; NULL: elp_<first patch name> */
	const char *output; /* also copy the .ko here; NULL: store only */
	/* cache root; NULL: elp_build_default_cache() */
	const char *cache_dir;
	const char *cc; /* compiler to use; NULL: match the kernel */
	bool force_toolchain; /* build even when no compiler matches */
	bool rebuild; /* ignore an identical succeeded build */
	/* 1: also rebuild the patches of the builds applied on this kernel
	 * (this host's 'apply' events not since reverted or replaced) and
	 * make the module replace them (klp_patch.replace); 0: no; -1: yes
	 * when the catalogue holds an applied livepatch for the kernel;
	 * ELP_BUILD_CUMULATIVE_GIVEN: replace, with exactly the patches
	 * given (a builder building a client's cumulative request) */
	int cumulative;
	/* .c files (tree-relative) compiled and diffed although no patch
	 * changes them: the users of a changed header's inline code */
	const char *const *extra_files;
	size_t nr_extra_files;
	unsigned int jobs; /* make -j; 0: number of CPUs */
	/* run every make of the build in a bubblewrap sandbox (sandbox.h):
	 * no network, the system read-only, only the tree and the build's
	 * work dir writable; an error when no sandbox can be made */
	bool sandbox;
	/* set asynchronously (signal handler) to stop between steps */
	volatile sig_atomic_t *cancel;
	/* a remote build sending the kernel's source (ELP_REMOTE_SEND_SOURCE)
	 * says how far it is: at most once per percent, and once done */
	void (*progress)(void *data, const char *builder,
			 unsigned long long sent, unsigned long long total,
			 bool done);
	void *progress_data;
};

struct elp_build_stage {
	const char *name; /* static */
	long long ms;
};

struct elp_build_func {
	char *object; /* "vmlinux" or a module name */
	char *old_name; /* function replaced in the running kernel */
	unsigned long sympos;
	char *source_file; /* e.g. "fs/proc/cmdline.c" */
};

struct elp_build_result {
	int64_t build_id; /* 0 when no build row was made */
	const char *status; /* "succeeded", "failed", "refused" (static) */
	char *reason; /* why it failed or was refused */
	bool reused; /* answered from an identical earlier build */
	bool cumulative; /* the module replaces every applied livepatch */
	size_t nr_applied_patches; /* patches taken from applied builds */
	char *module_name;
	char *inputs_sha256;
	char *kernel_release;
	char *artefact_path; /* in the artefact store */
	char *artefact_sha256;
	char *output_path; /* opts->output, when given and written */
	char *log_path; /* full make output */
	char *compiler; /* "path (version text)" of the compiler, once chosen */
	struct elp_build_func *funcs;
	size_t nr_funcs, cap_funcs;
	struct elp_build_stage stages[16];
	size_t nr_stages;
	long long duration_ms;
};

/*
 * Build a livepatch module.  Returns 0 when the build succeeded (or an
 * identical one was found), else a negative errno; *out is set whenever a
 * result is available (also for failed and refused builds: status, reason,
 * build id), and must be freed with elp_build_result_free().
 * -ENOTSUP means refused: the patch cannot be turned into a livepatch.
 */
int elp_build(struct elp_catalogue *cat, const struct elp_build_options *opts,
	      struct elp_build_result **out);
void elp_build_result_free(struct elp_build_result *r);

/* Module name derived from a patch name: elp_<name>, [a-z0-9_], <= 55. */
char *elp_build_module_name(const char *patch_name);

/*
 * The cache root elp_build() uses when opts->cache_dir is NULL: the
 * context's ELP_SET_CACHE_DIR, else /var/cache/elivepatch for root, else
 * ~/.cache/elivepatch.
 */
char *elp_build_default_cache(const struct elp_ctx *ctx);

#endif
