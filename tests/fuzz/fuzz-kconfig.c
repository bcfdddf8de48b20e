// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a kernel .config, read as a file (plain or compressed, with
 * libarchive, as /proc/config.gz is) and parsed for what a kernel record
 * keeps (livepatch, compiler version, options).
 */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));
	char path[PATH_MAX], *config = NULL;
	int fd = fuzz_file(data, size, path, sizeof(path));

	if (!k || fd < 0)
		abort();
	if (elp_config_read(fuzz_ctx(), path, &config) == 0) {
		free(elp_config_get(config, "CONFIG_LIVEPATCH"));
		free(elp_config_get(config, "CONFIG_CC_VERSION_TEXT"));
		elp_kernel_set_config(k, config);
	}
	free(config);
	elp_kernel_free(k);
	close(fd);
	return 0;
}
