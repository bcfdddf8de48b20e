/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Boot a kernel in qemu (TCG) with a generated initramfs, and the verify
 * run built on it: load a livepatch module in the guest, wait for its
 * transition, check that ftrace redirects every function it patches, run
 * the patch's check script, disable and unload it (and check that nothing
 * stays redirected), judge the kernel log.
 */
#ifndef ELP_QEMU_H
#define ELP_QEMU_H

#include <stdbool.h>
#include <stddef.h>

#include "elp.h"

/* --- initramfs: cpio newc + gzip, written with libarchive ---------------- */

struct elp_initramfs;

int elp_initramfs_open(struct elp_ctx *ctx, const char *path,
		       struct elp_initramfs **out);
int elp_initramfs_dir(struct elp_initramfs *ir, const char *path);
int elp_initramfs_data(struct elp_initramfs *ir, const char *path,
		       const void *data, size_t len, int mode);
/* A host file, copied (a symlink is followed). */
int elp_initramfs_file(struct elp_initramfs *ir, const char *path,
		       const char *host_path, int mode);
int elp_initramfs_chardev(struct elp_initramfs *ir, const char *path,
			  unsigned int major, unsigned int minor);
/* Finish the archive and free ir; an earlier failure is returned again. */
int elp_initramfs_close(struct elp_initramfs *ir);

/* Is path a static executable (no PT_INTERP), usable as the guest's shell? */
bool elp_is_static_elf(const char *path);

/* --- qemu ------------------------------------------------------------------- */

struct elp_qemu {
	const char *kernel; /* bzImage / vmlinuz */
	const char *initrd;
	const char *append; /* added to "console=ttyS0 quiet panic=-1" */
	const char *memory; /* default "512M" */
	int timeout_s; /* default 120 */
	const char *log_path; /* the serial console */
};

/*
 * Boot and wait.  0 when qemu exited by itself, -ETIMEDOUT when it was
 * killed after timeout_s, -ENOENT when qemu is missing, -EIO otherwise.
 */
int elp_qemu_boot(struct elp_ctx *ctx, const struct elp_qemu *q);

/* --- verify ------------------------------------------------------------------- */

struct elp_verify {
	const char *kernel; /* image to boot */
	const char *module; /* the .ko */
	const char *name; /* its module name (sysfs name) */
	const char *check; /* optional guest script run while patched */
	const char *busybox; /* default /bin/busybox (static) */
	const char *append; /* extra kernel command line */
	int transition_s; /* wait for each transition, default 30 */
	int timeout_s; /* the whole boot, default 120 */
	const char *log_path; /* the guest's console log, kept */
};

struct elp_verify_result {
	bool passed;
	char *reason; /* why not, one line; NULL when passed */
	long transition_ms; /* measured in the guest; -1 when unknown */
	int nr_funcs; /* functions the livepatch registered */
	int nr_redirected; /* of those, redirected by ftrace once patched */
	int check_status; /* the check script's exit status; -1: not run */
	char *check_output; /* its output, NULL when it printed nothing */
};

/*
 * Run the guest and judge it.  0 with a verdict in *res (passed or not),
 * -errno (logged) when the verification itself could not run.
 */
int elp_verify_run(struct elp_ctx *ctx, const struct elp_verify *v,
		   struct elp_verify_result *res);
void elp_verify_result_clear(struct elp_verify_result *res);

/*
 * The verdict from a guest's console log (the ELP-VERIFY-* markers and the
 * kernel's messages); boot is elp_qemu_boot's result.  log is modified.
 */
int elp_verify_judge(char *log, int boot, int transition_s,
		     struct elp_verify_result *res);

#endif
