/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lifecycle of a livepatch on a host: module info and loading through
 * libkmod, state from /sys/kernel/livepatch, blocked tasks from /proc, and
 * the catalogue rows (builds, events) that apply/revert/status/verify use.
 *
 * Reads of /proc and /sys honour the context's ELP_SET_ROOT (tests, containers);
 * loading, unloading and writing `enabled` always act on the real system.
 */
#ifndef ELP_LIVEPATCH_H
#define ELP_LIVEPATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "builds.h"
#include "catalogue.h"
#include "elp.h"

/* The running kernel's release (uname -r, or the root's osrelease). */
int elp_lp_running_release(struct elp_ctx *ctx, char **release);

/* --- a module file: libkmod module info ------------------------------ */

/* An entry of a module's __versions: the CRC it expects of a symbol. */
struct elp_modversion {
	char *symbol;
	uint64_t crc;
};

struct elp_module_info {
	char *path;
	char *name; /* modinfo name (KBUILD_MODNAME: '_' not '-') */
	char *vermagic; /* the whole vermagic string */
	char *release; /* its first word: the kernel release */
	bool livepatch; /* modinfo livepatch=Y */
	bool is_signed; /* a "~Module signature appended~" trailer */
	char *signer; /* from the signature, when libkmod can tell */
	char *sig_hashalgo;
	char *build_id; /* its NT_GNU_BUILD_ID, hex, or NULL */
	struct elp_modversion *versions; /* __versions (CONFIG_MODVERSIONS) */
	size_t nr_versions;
};

/*
 * Read a .ko's modinfo.  -ENOEXEC (logged) when the file is not a kernel
 * module; a module that is not a livepatch is not an error here.
 */
int elp_module_info_read(struct elp_ctx *ctx, const char *path,
			 struct elp_module_info **out);
void elp_module_info_free(struct elp_module_info *mi);

/* --- /sys/kernel/livepatch -------------------------------------------- */

struct elp_lp_func {
	char *name;
	int sympos;
};

struct elp_lp_object {
	char *name; /* "vmlinux" or a module name */
	int patched; /* -1: the kernel has no 'patched' attribute */
	struct elp_lp_func *funcs;
	size_t nr_funcs;
};

struct elp_livepatch {
	char *name;
	int enabled; /* 0/1, -1 unreadable */
	int transition; /* 0/1, -1 unreadable */
	struct elp_lp_object *objects;
	size_t nr_objects;
};

/* Is livepatching available (/sys/kernel/livepatch exists)? */
bool elp_lp_supported(struct elp_ctx *ctx);
/* One loaded livepatch; -ENOENT (not logged) when it is not loaded. */
int elp_lp_read(struct elp_ctx *ctx, const char *name,
		struct elp_livepatch **out);
/* Every loaded livepatch, sorted by name. */
int elp_lp_list(struct elp_ctx *ctx, struct elp_livepatch ***out, size_t *nr);
void elp_lp_free(struct elp_livepatch *lp);
void elp_lp_list_free(struct elp_livepatch **list, size_t nr);
/* Is a module of that name loaded (/sys/module/NAME)? */
bool elp_module_loaded(struct elp_ctx *ctx, const char *name);
/*
 * The build-id of loaded module NAME (/sys/module/NAME/notes, readable by
 * root only), hex; NULL when it cannot be read.
 */
char *elp_module_loaded_build_id(struct elp_ctx *ctx, const char *name);
/* The build-id of a module file, hex; NULL when it has none. */
char *elp_module_file_build_id(const char *path);

/* A task that has not reached the transition's target state. */
struct elp_lp_blocker {
	pid_t pid, tid;
	char *comm;
	char *function; /* a patched function on its stack, or NULL */
	char *stack; /* /proc/PID/task/TID/stack when readable, or NULL */
};

/*
 * Tasks blocking the transition of lp (target: enabled ? patched :
 * unpatched), from /proc/PID/task/TID/patch_state and .../stack.
 */
int elp_lp_blockers(struct elp_ctx *ctx, const struct elp_livepatch *lp,
		    struct elp_lp_blocker **out, size_t *nr);
void elp_lp_blockers_free(struct elp_lp_blocker *b, size_t nr);

/*
 * Wait up to timeout_ms for NAME's transition to finish (transition 0 or
 * the patch gone).  0 when done, -ETIMEDOUT when not (not logged).
 */
int elp_lp_wait(struct elp_ctx *ctx, const char *name, long timeout_ms);

/* --- acting on the real system (root) ---------------------------------- */

/* Load a livepatch module with libkmod; failures explained once. */
int elp_lp_load(struct elp_ctx *ctx, const char *path,
		const struct elp_module_info *mi);
/* Write 0 to /sys/kernel/livepatch/NAME/enabled. */
int elp_lp_disable(struct elp_ctx *ctx, const char *name);
/* Unload module NAME with libkmod, retrying while the kernel frees it. */
int elp_lp_unload(struct elp_ctx *ctx, const char *name, long timeout_ms);

/*
 * Signature policy of the running kernel: 1 when it refuses unsigned
 * modules (reason set: "module.sig_enforce=1" -- the parameter is also Y
 * with CONFIG_MODULE_SIG_FORCE=y -- or "the kernel is locked down
 * (integrity)"), 0 when not.
 */
int elp_lp_sig_enforced(struct elp_ctx *ctx, char **reason);

/* A module to apply or verify: the catalogue build and the file. */
struct elp_lp_artefact {
	struct elp_lp_build *build; /* NULL: a file the catalogue lacks */
	char *path;
	char sha256[65];
	struct elp_module_info *info;
};

/*
 * Resolve "BUILD" (a build id) or "FILE.ko" and check it: the build has a
 * module, the file's sha256 matches the catalogue, it is a livepatch
 * module.  A file the catalogue does not know gives -ENOENT without a
 * message (the caller decides) but *out is set when allow_unknown.
 */
int elp_lp_artefact_open(struct elp_catalogue *cat, const char *spec,
			 bool allow_unknown, struct elp_lp_artefact **out);
void elp_lp_artefact_free(struct elp_lp_artefact *a);

#endif
