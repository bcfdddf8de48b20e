/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Codestreams: one fix built for several catalogued kernels, and CVE mode,
 * which picks the overlay fixes each kernel needs and builds one cumulative
 * livepatch per kernel.  Every build goes through elp_build(), each with
 * its kernel's own toolchain; a failure for one kernel does not stop the
 * others.
 */
#ifndef ELP_CODESTREAM_H
#define ELP_CODESTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "../engine/build.h"
#include "catalogue.h"
#include "lifecycle.h"

/* One kernel's outcome. */
struct elp_codestream_result {
	char *kernel; /* catalogue name */
	char *release;
	char *version; /* upstream version used for version ranges */
	/* CVE mode: the fixes' patches built now (new), those already live,
	 * the fixes skipped ("OVERLAY:FIX: reason") and the CVEs built */
	char **selected, **live, **skipped, **cves;
	size_t nr_selected, nr_live, nr_skipped, nr_cves;
	int err; /* 0, or why the kernel failed (-errno) */
	char *reason; /* a failure not from a build (no build row) */
	struct elp_build_result *build; /* NULL: nothing was built */
	/* CVE mode with apply, the running kernel's succeeded build: what
	 * elp_apply() did, or apply_err (-errno, logged) */
	struct elp_apply_result *applied;
	int apply_err;
};

typedef int (*elp_codestream_cb)(const struct elp_codestream_result *r,
				 void *data);

struct elp_codestream_options {
	/* catalogue specs; none: every livepatch-capable kernel when
	 * all_kernels, else the running kernel */
	const char *const *kernels;
	size_t nr_kernels;
	bool all_kernels;
	/* builds at once, each in a process of its own (its make -j then
	 * defaults to CPUs / parallel); 0: see elp_codestream_parallel();
	 * 1: one after the other, in process.  Never more than there are
	 * kernels to build for. */
	unsigned int parallel;
	/* the build: kernel (and, in CVE mode, patches, name and
	 * cumulative) are set per kernel */
	struct elp_build_options build;
	/* CVE mode */
	const char *const *cves; /* none: every applicable fix not yet live */
	size_t nr_cves;
	bool dry_run; /* select and report, build nothing */
	/* apply the build for the running kernel with elp_apply() (waiting
	 * up to apply_wait_ms for the transition; 0: 60 s) before its result
	 * is reported; builds for other kernels are only built */
	bool apply;
	long apply_wait_ms;
};

/* Half the CPUs, fewer when the available memory (1.5 GiB a build) is
 * short; at least 1. */
unsigned int elp_codestream_parallel(void);

/*
 * Build opts->build.patches for each kernel (files are catalogued once,
 * first), up to opts->parallel at once.  cb sees each kernel's result, in
 * kernel order, as soon as it and those before it are done (from a
 * parallel build: the build's id, status, reason, module, artefact,
 * sha256, log; not its functions or pass timings).  The errors a build in
 * a process of its own logs are logged in this process just before its
 * kernel's result, as an in-process build's are.  Returns the number of
 * kernels whose build failed, or -errno when nothing could be tried.
 */
int elp_build_kernels(struct elp_catalogue *cat,
		      const struct elp_codestream_options *opts,
		      elp_codestream_cb cb, void *data);

/*
 * CVE mode: for each kernel, the present overlay fixes that carry one of
 * opts->cves (all fixes when none) and apply to it (version range,
 * out-of-tree prerequisites), less those already live (patches of builds
 * applied on this host, per the catalogue's history); then, once every
 * kernel's selection is made, one build per kernel with them, cumulative
 * (replacing what is live and carrying it along), up to opts->parallel at
 * once as elp_build_kernels() does.  A kernel with nothing to build is
 * still reported, with build NULL; one that cannot be considered (no
 * version) has err and reason set, nothing logged.  A CVE no present fix
 * carries is an error (-ENOENT, logged) before anything is built.  With
 * opts->apply, the running kernel's succeeded build is applied (a failed
 * apply counts as that kernel failing).  Returns the number of kernels
 * that failed, or -errno.
 */
int elp_cve_run(struct elp_catalogue *cat,
		const struct elp_codestream_options *opts, elp_codestream_cb cb,
		void *data);

#endif
