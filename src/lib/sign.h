/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel module signing with libcrypto, as the kernel's scripts/sign-file
 * does it: a detached PKCS#7 (CMS) signature of the module, no certificates
 * and no signed attributes, then struct module_signature and the magic
 * "~Module signature appended~\n".
 */
#ifndef ELP_SIGN_H
#define ELP_SIGN_H

#include <stdbool.h>

#include "elp.h"

/* Does the file end with a module signature? */
bool elp_module_is_signed(const char *path);

struct elp_sign_opts {
	const char *key; /* PEM private key (may hold the certificate too) */
	const char *cert; /* PEM or DER X.509; NULL: read it from key */
	const char *hash; /* digest name, NULL: "sha256" */
};

#define ELP_SIGN_DEFAULT_KEY "/etc/elivepatch/signing_key.pem"

/*
 * The configured signing key and certificate: the context's ELP_SET_SIGN_KEY
 * (else ELP_SIGN_DEFAULT_KEY) and ELP_SET_SIGN_CERT.  Fills opts (pointing
 * into ctx); returns true when the key file exists.
 */
bool elp_sign_configured(const struct elp_ctx *ctx, struct elp_sign_opts *opts);

/*
 * Sign module in place (replacing an existing signature), atomically.
 * signer, when non-NULL, gets the certificate's subject CN (malloc'd).
 */
int elp_module_sign(struct elp_ctx *ctx, const char *module,
		    const struct elp_sign_opts *opts, char **signer);

#endif
