// SPDX-License-Identifier: GPL-2.0-or-later
/* Fuzz target: the engine's ELF reader (objects and .ko files). */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elp_obj *obj = NULL;
	char path[PATH_MAX];
	int fd = fuzz_file(data, size, path, sizeof(path));

	if (fd < 0)
		abort();
	if (elp_obj_read(fuzz_ctx(), path, &obj) == 0)
		elp_obj_free(obj);
	close(fd);
	return 0;
}
