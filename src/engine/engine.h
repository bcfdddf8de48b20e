/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The object-level half of the livepatch engine: compare an original and a
 * patched object file, extract what changed into a new object, and turn the
 * linked module's references to the running kernel into livepatch
 * relocations.
 *
 * Flow used by the build driver:
 *   elp_symtab_load()            target kernel's symbols (kallsyms format)
 *   elp_diff_objects()           once per changed translation unit
 *   ... driver generates the klp_patch source and links the module with
 *       kbuild (the diff objects are linked in as prebuilt objects) ...
 *   elp_klp_finalize()           post-link: marked relocations -> .klp.rela
 */
#ifndef ELP_ENGINE_H
#define ELP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/elp.h"

/* Symbols of the target kernel (vmlinux and modules), kallsyms format. */
struct elp_symtab;

/*
 * Read "ADDR TYPE NAME [MODULE]" lines (/proc/kallsyms or a dump of it).
 * Lines without [MODULE] belong to "vmlinux".
 */
int elp_symtab_load(struct elp_ctx *ctx, const char *kallsyms_path,
		    struct elp_symtab **out);
/* Add the symbols of a module object (.ko) not loaded when kallsyms was read. */
int elp_symtab_add_module(struct elp_ctx *ctx, struct elp_symtab *symtab,
			  const char *modname, const char *ko_path);
/* Mark exported symbols (Module.symvers: "CRC NAME MODULE EXPORT_TYPE NS"). */
int elp_symtab_load_exports(struct elp_ctx *ctx, struct elp_symtab *symtab,
			    const char *module_symvers_path);
void elp_symtab_free(struct elp_symtab *symtab);

/*
 * Layout of the target kernel's special-section entries, read from its own
 * headers: elp_special_probe_source() compiled against the prepared tree,
 * then elp_special_probe_read() on the object.  0 is unknown: a changed
 * object with such a section is refused.
 */
struct elp_special_layout {
	size_t bug_entry; /* sizeof(struct bug_entry): __bug_table */
	size_t bug_entry_flags; /* offsetof(struct bug_entry, flags) */
	size_t alt_instr; /* .altinstructions */
	size_t paravirt_patch_site; /* .parainstructions */
	size_t exception_table_entry; /* __ex_table */
	size_t jump_entry; /* __jump_table */
	size_t static_call_site; /* .static_call_sites */
	size_t orc_entry; /* .orc_unwind */
};

/* C source (a kbuild object) whose compiled form records the layout. */
const char *elp_special_probe_source(void);
/* Read the layout from the compiled probe; what it lacks stays 0. */
int elp_special_probe_read(struct elp_ctx *ctx, const char *probe_obj,
			   struct elp_special_layout *out);

struct elp_diff_request {
	const char *orig_obj; /* object compiled from the unpatched source */
	const char *patched_obj; /* same translation unit, patched */
	const char *output_obj; /* written only when something changed */
	const char *source_file; /* e.g. "fs/proc/cmdline.c", for messages */
	const char *target; /* "vmlinux" or the module name, e.g. "ext4" */
	/* unique per build, used to name the new functions' global aliases */
	unsigned int unit_index;
	struct elp_symtab *symtab;
	/* the target kernel's special sections; NULL: all unknown */
	const struct elp_special_layout *layout;
	/* CONFIG_X86_KERNEL_IBT: the kernel seals at boot the ENDBR of the
	 * functions whose address it never takes */
	bool ibt;
};

struct elp_patched_func {
	char *old_name; /* name in the running kernel ("foo.isra.0") */
	unsigned long sympos; /* 0 when the name is unique in the target */
	char *new_symbol; /* global alias in output_obj the klp_func points at */
};

/* A klp callback declared with data/include/elivepatch.h's macros. */
enum elp_callback_kind {
	ELP_CB_PRE_PATCH,
	ELP_CB_POST_PATCH,
	ELP_CB_PRE_UNPATCH,
	ELP_CB_POST_UNPATCH,
	ELP_CB_KINDS,
};

struct elp_diff_result {
	size_t nr_funcs;
	struct elp_patched_func *funcs;
	size_t nr_new_funcs; /* functions added by the patch (no klp_func) */
	/* global alias in output_obj of each declared callback, or NULL */
	char *callbacks[ELP_CB_KINDS];
	/* global functions and data the patch adds here (defined, global) */
	char **new_globals;
	size_t nr_new_globals;
	/* references found neither in the exports nor in the kernel's symbols:
	 * left to the module loader; the caller warns about those that no
	 * other file of the patch defines (see new_globals) */
	char **loader_syms;
	size_t nr_loader_syms;
	/* symbol namespaces of the exports the output uses (MODULE_IMPORT_NS) */
	char **namespaces;
	size_t nr_namespaces;
};

/*
 * Compare two objects.  Returns 0 and a result (nr_funcs may be 0 when the
 * object code did not change; then output_obj is not written), or a negative
 * errno.  An unsafe change returns -ENOTSUP (data layout, __init code, a
 * function that cannot be resolved uniquely, ...) after logging the reason at
 * ELP_LOG_ERR in the form "<source_file>: <symbol>: <reason>; <advice>".
 */
int elp_diff_objects(struct elp_ctx *ctx, const struct elp_diff_request *req,
		     struct elp_diff_result **out);
void elp_diff_result_free(struct elp_diff_result *result);

/*
 * Post-link pass over the module kbuild produced: every undefined symbol the
 * diff pass marked as living in the target kernel becomes a
 * ".klp.sym.<obj>.<name>,<pos>" SHN_LIVEPATCH symbol and its relocations move
 * to ".klp.rela.<obj>.<section>" sections (Documentation/livepatch/
 * module-elf-format.rst).  Rewrites ko_path in place.
 */
int elp_klp_finalize(struct elp_ctx *ctx, const char *ko_path);

/*
 * Post-link check for kernels whose unwinder is ORC: every function of the
 * module at ko_path is covered by its .orc_unwind_ip (an entry at or before
 * its start in its section).  -ENOTSUP after logging the functions that are
 * not: the unwinder could not walk through them, and the livepatch
 * transition, which needs reliable stack traces, would not complete.
 */
int elp_module_check_orc(struct elp_ctx *ctx, const char *ko_path);

#endif
