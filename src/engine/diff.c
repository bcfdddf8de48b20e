// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * elp_diff_objects(): a list of named passes over an original and a
 * patched object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct pass {
	const char *name;
	int (*run)(struct elp_diff_state *st);
};

static int pass_read(struct elp_diff_state *st)
{
	int ret = elp_obj_read(st->ctx, st->req->orig_obj, &st->orig);

	if (ret)
		return ret;
	return elp_obj_read(st->ctx, st->req->patched_obj, &st->patched);
}

static int pass_bundle(struct elp_diff_state *st)
{
	int ret = elp_bundle_syms(st->orig);

	return ret ? ret : elp_bundle_syms(st->patched);
}

static int pass_correlate(struct elp_diff_state *st)
{
	int ret = elp_unit_syms(st->orig, &st->neighbours, &st->nr_neighbours);

	if (ret)
		return ret;
	return elp_correlate(st->orig, st->patched,
			     st->req->source_file ? st->req->source_file
						  : st->req->patched_obj);
}

static int pass_compare(struct elp_diff_state *st)
{
	return elp_compare(st->orig, st->patched, st->req->layout);
}

static int pass_include(struct elp_diff_state *st)
{
	return elp_include_changed(st);
}

static int pass_special(struct elp_diff_state *st)
{
	int ret;

	/* first the closure of the changed functions, then their entries */
	ret = elp_resolve_refs(st);
	if (ret)
		return ret;
	ret = elp_regenerate_special(st->patched, st->req->layout,
				     st->req->source_file
					     ? st->req->source_file
					     : st->req->patched_obj);
	if (ret)
		return ret;
	return elp_resolve_refs(st);
}

static int pass_write(struct elp_diff_state *st)
{
	if (!st->result->nr_funcs && !st->result->nr_new_funcs)
		return 0;
	return elp_obj_write(st->patched, st->req->output_obj, false);
}

static const struct pass passes[] = {
	{ "read", pass_read },
	{ "bundle", pass_bundle },
	{ "correlate", pass_correlate },
	{ "compare", pass_compare },
	{ "check-static-locals", elp_check_static_locals },
	{ "check-unsafe", elp_check_unsafe },
	{ "include-changed", pass_include },
	{ "resolve-and-special", pass_special },
	{ "check-unselected", elp_check_unselected },
	{ "late-relocs", elp_check_late_relocs },
	{ "klp-funcs", elp_make_funcs },
	{ "write", pass_write },
	{ NULL, NULL },
};

int elp_diff_objects(struct elp_ctx *ctx, const struct elp_diff_request *req,
		     struct elp_diff_result **out)
{
	struct elp_diff_state st = { .ctx = ctx, .req = req };
	size_t i;
	int ret = 0;

	if (!req || !req->orig_obj || !req->patched_obj || !req->output_obj ||
	    !out) {
		elp_err(ctx, "elp_diff_objects: missing argument");
		return -EINVAL;
	}
	st.result = calloc(1, sizeof(*st.result));
	if (!st.result)
		return -ENOMEM;
	for (i = 0; passes[i].name; i++) {
		elp_dbg(ctx, "%s: pass %s", req->patched_obj, passes[i].name);
		ret = passes[i].run(&st);
		if (ret) {
			if (ret == -ENOMEM)
				elp_err(ctx, "%s: out of memory in pass %s",
					req->patched_obj, passes[i].name);
			elp_dbg(ctx, "%s: pass %s failed: %d", req->patched_obj,
				passes[i].name, ret);
			break;
		}
	}
	elp_obj_free(st.orig);
	elp_obj_free(st.patched);
	elp_unit_syms_free(st.neighbours, st.nr_neighbours);
	free(st.work);
	if (ret) {
		elp_diff_result_free(st.result);
		return ret;
	}
	*out = st.result;
	return 0;
}

void elp_diff_result_free(struct elp_diff_result *result)
{
	size_t i;

	if (!result)
		return;
	for (i = 0; i < result->nr_funcs; i++) {
		free(result->funcs[i].old_name);
		free(result->funcs[i].new_symbol);
	}
	free(result->funcs);
	for (i = 0; i < ELP_CB_KINDS; i++)
		free(result->callbacks[i]);
	for (i = 0; i < result->nr_new_globals; i++)
		free(result->new_globals[i]);
	free(result->new_globals);
	for (i = 0; i < result->nr_loader_syms; i++)
		free(result->loader_syms[i]);
	free(result->loader_syms);
	for (i = 0; i < result->nr_namespaces; i++)
		free(result->namespaces[i]);
	free(result->namespaces);
	free(result);
}
