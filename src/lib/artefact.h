/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What is done to a build's module after the build: verified in its kernel
 * booted in qemu, signed for a kernel that checks signatures; each recorded
 * in the catalogue with its history event.
 */
#ifndef ELP_ARTEFACT_H
#define ELP_ARTEFACT_H

#include "livepatch.h"
#include "qemu.h"
#include "sign.h"
#include "util.h"

struct elp_build_verify {
	const char *image; /* NULL: the kernel's in the catalogue */
	/* told once the boot starts */
	void (*booting)(void *data, const struct elp_lp_build *b);
	void *data;
	/* out: the module and build verified (elp_lp_artefact_free) */
	struct elp_lp_artefact *artefact;
	/* out: the guest's console log, kept beside the catalogue */
	char *log_path;
};

/*
 * Verify build spec: boot its kernel image in qemu, load the module, judge
 * (v: the guest's settings; kernel, module, name, log_path are set here) and
 * record the verdict (the build's verified state and log, a 'verify' event).
 * 0 with res filled when a verdict was reached, passed or not.
 */
int elp_build_verify(struct elp_catalogue *cat, const char *spec,
		     struct elp_verify *v, struct elp_build_verify *bv,
		     struct elp_verify_result *res);
void elp_build_verify_release(struct elp_build_verify *bv);
/* "2 functions redirected, check script passed, transition 120 ms" */
char *elp_verify_summary(const struct elp_verify_result *res);

struct elp_build_signed {
	struct elp_lp_artefact *artefact; /* build NULL: a file */
	char *signer;
	char *hash; /* the digest used */
	char sha256[ELP_SHA256_HEX_LEN + 1]; /* of the signed module */
};

/*
 * Sign the module of build spec, or a .ko file, with opts; the digest
 * defaults to the build's kernel's CONFIG_MODULE_SIG_HASH (a warning when the
 * kernel does not check signatures).  A build's new sha256 is recorded with
 * a 'sign' event.
 */
int elp_build_sign(struct elp_catalogue *cat, const char *spec,
		   const struct elp_sign_opts *opts,
		   struct elp_build_signed *out);
void elp_build_signed_release(struct elp_build_signed *s);

#endif
