/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * elivepatch.h - macros for livepatch source patches built by elivepatch.
 *
 * Include it from the patched kernel source file:
 *
 *	#include <elivepatch.h>
 *
 * elivepatch adds this header's directory to the include path of the
 * patched compile only; the original compile never sees it.
 *
 * Callbacks (Documentation/livepatch/callbacks.rst) run when the object
 * they belong to (vmlinux, or the module the patched file is built into) is
 * patched or unpatched:
 *
 *	static int my_pre_patch(struct klp_object *obj) { ... return 0; }
 *	ELIVEPATCH_PRE_PATCH_CALLBACK(my_pre_patch);
 *
 * A pre-patch callback returning non-zero stops the patch from loading.
 * At most one callback of each kind per patched object.
 *
 * Shadow variables (Documentation/livepatch/shadow-vars.rst) are how a fix
 * "adds a field to a structure" without changing its layout: attach the new
 * field to the existing object with klp_shadow_get_or_alloc(obj, ID, ...)
 * and detach it with klp_shadow_free(obj, ID, dtor).  Pick IDs with
 * ELIVEPATCH_SHADOW_ID so unrelated patches do not collide.
 */
#ifndef ELIVEPATCH_H
#define ELIVEPATCH_H

#include <linux/livepatch.h>

#define __ELIVEPATCH_CALLBACK(kind, type, fn)                                  \
	static type __elp_cb_##kind##_##fn __attribute__((                      \
		used, section(".elivepatch.callbacks." #kind))) = (fn)

typedef int (*elivepatch_pre_patch_fn)(struct klp_object *obj);
typedef void (*elivepatch_callback_fn)(struct klp_object *obj);

#define ELIVEPATCH_PRE_PATCH_CALLBACK(fn)                                      \
	__ELIVEPATCH_CALLBACK(pre_patch, elivepatch_pre_patch_fn, fn)
#define ELIVEPATCH_POST_PATCH_CALLBACK(fn)                                     \
	__ELIVEPATCH_CALLBACK(post_patch, elivepatch_callback_fn, fn)
#define ELIVEPATCH_PRE_UNPATCH_CALLBACK(fn)                                    \
	__ELIVEPATCH_CALLBACK(pre_unpatch, elivepatch_callback_fn, fn)
#define ELIVEPATCH_POST_UNPATCH_CALLBACK(fn)                                   \
	__ELIVEPATCH_CALLBACK(post_unpatch, elivepatch_callback_fn, fn)

/* A shadow variable id: a small number in a namespace of its own. */
#define ELIVEPATCH_SHADOW_ID(n) (0x454c5000UL | ((n) & 0xffUL))

#endif
