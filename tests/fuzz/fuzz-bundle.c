// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the bundle reader (tar + zstd from a remote builder or
 * client), extracted into a fresh directory that is removed after.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/bundle.h"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct elp_bundle_limits limits = { 64, 1 << 20 };
	char path[PATH_MAX], top[] = "/tmp/elp-fuzz-bundle.XXXXXX",
			     dir[PATH_MAX];
	int fd = fuzz_file(data, size, path, sizeof(path));

	if (fd < 0 || !mkdtemp(top))
		abort();
	lseek(fd, 0, SEEK_SET);
	snprintf(dir, sizeof(dir), "%s/x", top);
	elp_bundle_extract(fuzz_ctx(), fd, dir, &limits, "the fuzzer's bundle",
			   NULL);
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	close(fd);
	return 0;
}
