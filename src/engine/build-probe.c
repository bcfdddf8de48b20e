// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The layout of the kernel's special-section entries, from the prepared
 * tree's own headers: a small probe object compiled once per tree (and
 * probe version) with kbuild, before any patch is applied, and kept next to
 * the tree:  <tree_root>/layout-<probe sha>/elp_layout.{c,o}
 * A probe that does not compile leaves the layouts unknown: builds go on,
 * and only a change that carries special-section entries is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-internal.h"

static int compile_probe(struct elp_bstate *b, const char *dir, const char *obj)
{
	const char *src_text = elp_special_probe_source();
	char *src = NULL, *kbuild = NULL, *mdir = NULL;
	const char *targets[2];
	int err = -ENOMEM;

	if (asprintf(&src, "%s/elp_layout.c", dir) < 0 ||
	    asprintf(&kbuild, "%s/Kbuild", dir) < 0 ||
	    asprintf(&mdir, "M=%s", dir) < 0)
		goto out;
	err = elp_mkdir_p(b->ctx, dir, 0755);
	if (!err)
		err = elp_write_file_atomic(b->ctx, src, src_text,
					    strlen(src_text), 0644);
	if (!err)
		err = elp_write_file_atomic(
			b->ctx, kbuild, "obj-m := elp_layout.o\n", 22, 0644);
	if (err)
		goto out;
	targets[0] = mdir;
	targets[1] = "elp_layout.o";
	err = elp_bmake(b, b->tree, targets, 2, false,
			"probing the kernel's special section layouts");
	if (!err && !elp_is_file(obj)) {
		elp_err(b->ctx, "kbuild did not produce '%s'", obj);
		err = -EIO;
	}
out:
	free(src);
	free(kbuild);
	free(mdir);
	return err;
}

int elp_bprobe_layout(struct elp_bstate *b)
{
	const char *src = elp_special_probe_source();
	char sha[ELP_SHA256_HEX_LEN + 1];
	char *dir = NULL, *obj = NULL;
	int err;

	memset(&b->layout, 0, sizeof(b->layout));
	err = elp_sha256_hex(src, strlen(src), sha);
	if (err)
		return err;
	if (asprintf(&dir, "%s/layout-%.12s", b->tree_root, sha) < 0 ||
	    asprintf(&obj, "%s/elp_layout.o", dir) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!elp_is_file(obj))
		err = compile_probe(b, dir, obj);
	if (!err)
		err = elp_special_probe_read(b->ctx, obj, &b->layout);
	if (err == -ENOMEM || err == -EINTR)
		goto out;
	if (err) {
		elp_warn(
			b->ctx,
			"the special-section layouts of the kernel are unknown; changes that carry __bug_table, alternatives or jump labels will be refused");
		err = 0;
		goto out;
	}
	elp_dbg(b->ctx,
		"special layouts: bug_entry %zu (flags at %zu), alt_instr %zu, paravirt_patch_site %zu, exception_table_entry %zu, jump_entry %zu, static_call_site %zu, orc_entry %zu",
		b->layout.bug_entry, b->layout.bug_entry_flags,
		b->layout.alt_instr, b->layout.paravirt_patch_site,
		b->layout.exception_table_entry, b->layout.jump_entry,
		b->layout.static_call_site, b->layout.orc_entry);
out:
	free(dir);
	free(obj);
	return err;
}
