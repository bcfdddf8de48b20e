// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: symbol tables, kallsyms and System.map: the kernel
 * library's check (kernel add) and the engine's symbol table (build).
 */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"
#include "fuzz.h"
#include "lib/kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));
	struct elp_symtab *st = NULL;
	char path[PATH_MAX];
	int fd = fuzz_file(data, size, path, sizeof(path));

	if (!k || fd < 0)
		abort();
	elp_kernel_read_symbols(fuzz_ctx(), k, path, "fuzz.map", "fuzz");
	elp_kernel_free(k);
	if (elp_symtab_load(fuzz_ctx(), path, &st) == 0)
		elp_symtab_free(st);
	close(fd);
	return 0;
}
