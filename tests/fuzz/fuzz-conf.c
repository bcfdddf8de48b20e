// SPDX-License-Identifier: GPL-2.0-or-later
/* Fuzz target: the /etc/elivepatch.conf parser. */
#include <stdlib.h>

#include "fuzz.h"
#include "lib/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elp_conf *conf = NULL;
	char *text = fuzz_text(data, size);

	if (elp_conf_parse(fuzz_ctx(), "fuzz.conf", text, &conf) == 0)
		elp_conf_free(conf);
	free(text);
	return 0;
}
