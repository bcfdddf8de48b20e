// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel this machine runs: its release and arch (uname, or the
 * ELP_SET_ROOT's /proc/sys/kernel), /proc/version and its vmlinux build-id
 * (/sys/kernel/notes).  The bottom of kernel*.c: it calls none of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "kernel.h"
#include "util.h"

static char *read_first_line(struct elp_ctx *ctx, const char *path)
{
	char *data = NULL;

	if (elp_read_file(ctx, path, &data, NULL) < 0)
		return NULL;
	*strchrnul(data, '\n') = '\0';
	return data;
}

char *elp_notes_build_id(const void *data, size_t len)
{
	const unsigned char *notes = data;
	size_t off = 0;

	while (off + 12 <= len) {
		unsigned int namesz, descsz, type;
		size_t name_off, desc_off;

		memcpy(&namesz, notes + off, 4);
		memcpy(&descsz, notes + off + 4, 4);
		memcpy(&type, notes + off + 8, 4);
		name_off = off + 12;
		desc_off = name_off + ((namesz + 3u) & ~3u);
		if (desc_off + descsz > len)
			break;
		if (type == 3 && namesz == 4 &&
		    memcmp(notes + name_off, "GNU", 4) == 0) {
			char *hex = malloc(descsz * 2 + 1);
			unsigned int i;

			if (hex)
				hex[0] = '\0';
			for (i = 0; hex && i < descsz; i++)
				sprintf(hex + 2 * i, "%02x",
					notes[desc_off + i]);
			return hex;
		}
		off = desc_off + ((descsz + 3u) & ~3u);
	}
	return NULL;
}

/* The vmlinux build-id: the NT_GNU_BUILD_ID note in /sys/kernel/notes. */
static char *read_build_id(struct elp_ctx *ctx, const char *path)
{
	char *notes = NULL, *hex;
	size_t len = 0;

	if (elp_read_file(ctx, path, &notes, &len) < 0)
		return NULL;
	hex = elp_notes_build_id(notes, len);
	free(notes);
	return hex;
}

char *elp_kernel_running_build_id(struct elp_ctx *ctx)
{
	char *path = elp_rooted(ctx, "/sys/kernel/notes");
	char *id = path ? read_build_id(NULL, path) : NULL;

	free(path);
	return id;
}

int elp_kernel_running_identity(struct elp_ctx *ctx, struct elp_kernel *k)
{
	struct utsname uts;
	char *p;

	if (elp_get(ctx, ELP_SET_ROOT)) {
		/* the root's /proc/sys/kernel/osrelease, like uname -r */
		p = elp_rooted(ctx, "/proc/sys/kernel/osrelease");
		k->release = p ? read_first_line(NULL, p) : NULL;
		free(p);
		if (!k->release)
			return -ENOENT;
		p = elp_rooted(ctx, "/proc/sys/kernel/arch");
		k->arch = p ? read_first_line(NULL, p) : NULL;
		free(p);
		if (!k->arch)
			k->arch = strdup("x86_64");
		return 0;
	}
	if (uname(&uts) < 0)
		return -errno;
	k->release = strdup(uts.release);
	k->arch = strdup(uts.machine);
	return k->release && k->arch ? 0 : -ENOMEM;
}

int elp_kernel_running_release(struct elp_ctx *ctx, char **release)
{
	struct elp_kernel k = { 0 };
	int err = elp_kernel_running_identity(ctx, &k);

	free(k.arch);
	if (err) {
		free(k.release);
		return err;
	}
	*release = k.release;
	return 0;
}

char *elp_kernel_running_version(struct elp_ctx *ctx)
{
	char *path = elp_rooted(ctx, "/proc/version");
	char *text = path ? read_first_line(NULL, path) : NULL;

	free(path);
	return text;
}
