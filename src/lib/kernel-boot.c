// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A kernel's symbol table when only its image is known: boot the image in
 * qemu as verify does, with a busybox initramfs that prints /proc/version,
 * the build-id note and /proc/kallsyms (gzip | base64) on the console.
 * Booted with nokaslr, so addresses are the link-time ones of System.map.
 * The console's gzip is kept, keyed by the image's sha256 (the CLI's dir is
 * <build cache>/symbols):
 *
 *   <dir>/boot-<image sha256>.gz
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "qemu.h"
#include "util.h"

#define ORIGIN "derived by booting the image in qemu"

static const char init_script[] =
	"#!/bin/busybox sh\n"
	"/bin/busybox --install -s /bin\n"
	"export PATH=/bin\n"
	"mount -t proc proc /proc\n"
	"mount -t sysfs sysfs /sys\n"
	"echo 0 > /proc/sys/kernel/kptr_restrict\n"
	"echo \"ELP-SYMS-VERSION $(cat /proc/version)\"\n"
	"echo \"ELP-SYMS-NOTES $(od -An -v -tx1 /sys/kernel/notes | tr -d ' \\n')\"\n"
	"echo ELP-SYMS-BEGIN\n"
	"gzip -c /proc/kallsyms | base64\n"
	"echo ELP-SYMS-END\n"
	"sync\n"
	"poweroff -f\n"
	"sleep 60\n";

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode the base64 between the markers; line ends (\r\n) are skipped. */
static int b64_decode(const char *s, const char *end, struct elp_buf *out)
{
	unsigned int acc = 0;
	int bits = 0, err = 0;

	for (; s < end && !err; s++) {
		int v = b64_value((unsigned char)*s);
		unsigned char byte;

		if (*s == '=' || *s == '\r' || *s == '\n')
			continue;
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			byte = (unsigned char)(acc >> bits);
			err = elp_buf_append(out, &byte, 1);
		}
	}
	return err;
}

/* The value of "MARKER value" on the console, up to the line end. */
static char *console_value(const char *log, const char *marker)
{
	const char *p = strstr(log, marker);
	size_t n;

	if (!p)
		return NULL;
	p += strlen(marker);
	n = strcspn(p, "\r\n");
	return strndup(p, n);
}

/* NT_GNU_BUILD_ID from the hex of /sys/kernel/notes. */
static char *notes_build_id(const char *hex)
{
	size_t len = strlen(hex) / 2, i;
	unsigned char *notes = malloc(len ? len : 1);
	char *id;

	if (!notes)
		return NULL;
	for (i = 0; i < len; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &notes[i]) != 1)
			len = i;
	id = elp_notes_build_id(notes, len);
	free(notes);
	return id;
}

/* The console's last words, for an error. */
static const char *last_line(char *text)
{
	char *p;

	elp_rstrip(text);
	for (p = text; *p; p++)
		if (*p == '\r')
			*p = ' ';
	p = strrchr(text, '\n');
	return p ? p + 1 : text;
}

static int boot_initramfs(struct elp_ctx *ctx, const char *busybox,
			  const char *path)
{
	struct elp_initramfs *ir = NULL;
	int err;

	if (!elp_is_static_elf(busybox)) {
		elp_err(ctx,
			"'%s' is not a static executable: the guest needs a static busybox (apt-get install busybox-static)",
			busybox);
		return -ENOEXEC;
	}
	err = elp_initramfs_open(ctx, path, &ir);
	if (err)
		return err;
	elp_initramfs_dir(ir, "bin");
	elp_initramfs_dir(ir, "dev");
	elp_initramfs_dir(ir, "proc");
	elp_initramfs_dir(ir, "sys");
	elp_initramfs_chardev(ir, "dev/console", 5, 1);
	elp_initramfs_file(ir, "bin/busybox", busybox, 0755);
	elp_initramfs_data(ir, "init", init_script, strlen(init_script), 0755);
	return elp_initramfs_close(ir);
}

/*
 * Boot and take the console's gzip of /proc/kallsyms into gz; the guest's
 * /proc/version must name the release.
 */
static int boot_for_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			    const char *tmpdir, struct elp_buf *gz)
{
	struct elp_qemu q = { .append = "nokaslr", .timeout_s = 300 };
	char *initrd = NULL, *log = NULL, *text = NULL, *version = NULL;
	const char *begin, *end;
	long long t0 = elp_now_ms();
	int err;

	if (asprintf(&initrd, "%s/initrd.gz", tmpdir) < 0 ||
	    asprintf(&log, "%s/console.log", tmpdir) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = boot_initramfs(ctx, "/bin/busybox", initrd);
	if (err)
		goto out;
	q.kernel = k->image_path;
	q.initrd = initrd;
	q.log_path = log;
	elp_notice(
		ctx,
		"booting '%s' in qemu to read its symbol table (TCG: a minute or less)",
		k->image_path);
	err = elp_qemu_boot(ctx, &q);
	if (err == -ETIMEDOUT)
		elp_err(ctx, "booting '%s' in qemu timed out after %d s",
			k->image_path, q.timeout_s);
	if (err && err != -EIO)
		goto out;
	err = elp_read_file(ctx, log, &text, NULL);
	if (err)
		goto out;
	begin = strstr(text, "ELP-SYMS-BEGIN");
	end = begin ? strstr(begin, "ELP-SYMS-END") : NULL;
	version = console_value(text, "ELP-SYMS-VERSION ");
	if (!begin || !end || !version) {
		elp_err(ctx,
			"booting '%s' in qemu gave no symbol table (console: \"%s\")",
			k->image_path, last_line(text));
		err = -EIO;
		goto out;
	}
	if (strncmp(version, "Linux version ", 14) != 0 ||
	    strncmp(version + 14, k->release, strlen(k->release)) != 0 ||
	    version[14 + strlen(k->release)] != ' ') {
		elp_err(ctx, "image '%s' booted as \"%s\", not release %s",
			k->image_path, version, k->release);
		err = -EINVAL;
		goto out;
	}
	err = b64_decode(begin + strlen("ELP-SYMS-BEGIN"), end, gz);
	if (err) {
		elp_err(ctx,
			"booting '%s' in qemu: the symbol table on the console is damaged",
			k->image_path);
		goto out;
	}
	if (!k->version_text)
		k->version_text = strdup(version);
	if (!k->build_id) {
		char *notes = console_value(text, "ELP-SYMS-NOTES ");

		k->build_id = notes ? notes_build_id(notes) : NULL;
		free(notes);
	}
	elp_info(ctx, "read the symbol table of '%s' in %lld s", k->image_path,
		 (elp_now_ms() - t0 + 500) / 1000);
out:
	if (initrd)
		unlink(initrd);
	if (log)
		unlink(log);
	free(initrd);
	free(log);
	free(text);
	free(version);
	return err;
}

int elp_kernel_derive_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			      const char *cache_dir)
{
	const char *image_sha = k->inputs[ELP_KERNEL_IMAGE].sha256;
	char tmpdir[] = "/tmp/elivepatch-symbols.XXXXXX";
	char *cached = NULL;
	struct elp_buf gz = { 0 };
	int err;

	if (!k->image_path || !image_sha)
		return -ENOENT;
	if (asprintf(&cached, "%s/boot-%s.gz", cache_dir, image_sha) < 0)
		return -ENOMEM;
	/* root's cache: made 0700, and nothing another user could plant */
	err = elp_private_dir(ctx, cache_dir, "cache");
	if (err)
		goto out;
	if (elp_is_file(cached)) {
		err = elp_kernel_read_symbols(ctx, k, cached, k->image_path,
					      ORIGIN);
		if (!err) {
			elp_notice(
				ctx,
				"symbol table of '%s' from an earlier boot ('%s')",
				k->image_path, cached);
			goto out;
		}
		elp_warn(ctx, "not using '%s': booting the image again",
			 cached);
	}
	if (!mkdtemp(tmpdir)) {
		err = -errno;
		elp_err(ctx, "cannot create a temporary directory: %s",
			strerror(errno));
		goto out;
	}
	err = boot_for_symbols(ctx, k, tmpdir, &gz);
	rmdir(tmpdir);
	if (!err)
		err = elp_write_file_atomic(ctx, cached, gz.data, gz.len, 0644);
	if (!err)
		err = elp_kernel_read_symbols(ctx, k, cached, k->image_path,
					      ORIGIN);
out:
	elp_buf_free(&gz);
	free(cached);
	return err;
}
