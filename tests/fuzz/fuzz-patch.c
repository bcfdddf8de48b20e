// SPDX-License-Identifier: GPL-2.0-or-later
/* Fuzz target: the patch parser (unified diffs, git and mail forms). */
#include <stdlib.h>

#include "fuzz.h"
#include "lib/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elp_patch *p = NULL;
	char *text = fuzz_text(data, size);

	if (elp_patch_parse(fuzz_ctx(), "fuzz.patch", text, size, &p) == 0)
		elp_patch_free(p);
	free(text);
	return 0;
}
