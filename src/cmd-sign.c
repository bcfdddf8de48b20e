// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch sign: sign a build's module for a kernel that checks signatures. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/artefact.h"
#include "lib/util.h"

static int sign(struct cli *cli, struct elp_catalogue *cat, const char *spec,
		const struct elp_sign_opts *opts)
{
	struct elp_build_signed s;
	const struct elp_lp_artefact *a;

	if (elp_build_sign(cat, spec, opts, &s)) {
		elp_build_signed_release(&s);
		return 1;
	}
	a = s.artefact;
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_id(j, "build", a->build ? a->build->id : 0);
		elp_json_str(j, "module", a->path);
		elp_json_str(j, "signer", s.signer);
		elp_json_str(j, "hash", s.hash);
		elp_json_str(j, "sha256", s.sha256);
		elp_json_end(j);
		cli_json_done(j);
	} else if (a->build) {
		printf("signed build %lld ('%s') with key '%s'\n",
		       (long long)a->build->id, a->path, s.signer);
	} else {
		printf("signed '%s' with key '%s'\n", a->path, s.signer);
	}
	elp_build_signed_release(&s);
	return 0;
}

static int run_sign(struct cli *cli, int argc, const char **argv)
{
	char *key = NULL, *cert = NULL, *hash = NULL;
	struct elp_sign_opts opts = { 0 };
	struct elp_catalogue *cat;
	const char *spec;
	poptContext pc;
	bool done;
	int rc;
	struct poptOption options[] = {
		{ "key", 0, POPT_ARG_STRING, &key, 0,
		  "PEM private key (default: $ELIVEPATCH_SIGN_KEY, else " ELP_SIGN_DEFAULT_KEY
		  ")",
		  "FILE" },
		{ "cert", 0, POPT_ARG_STRING, &cert, 0,
		  "X.509 certificate, PEM or DER (default: $ELIVEPATCH_SIGN_CERT, else in the key file)",
		  "FILE" },
		{ "hash", 0, POPT_ARG_STRING, &hash, 0,
		  "digest (default: the kernel's CONFIG_MODULE_SIG_HASH, else sha256)",
		  "ALGO" },
		POPT_TABLEEND
	};

	rc = cli_parse_one(
		"[--key FILE] [--cert FILE] [--hash ALGO] BUILD|FILE.ko",
		options, argc, argv, &pc, &spec, &done);
	if (rc || done)
		goto out_opts;
	elp_sign_configured(cli->ctx, &opts);
	if (key)
		opts.key = key;
	if (cert)
		opts.cert = cert;
	opts.hash = hash;
	rc = 1;
	if (!elp_is_file(opts.key)) {
		cli_error(
			"no signing key '%s'; pass --key or set ELIVEPATCH_SIGN_KEY",
			opts.key);
		goto out;
	}
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	rc = sign(cli, cat, spec, &opts);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
out_opts:
	free(key);
	free(cert);
	free(hash);
	return rc;
}

const struct command cmd_sign = {
	"sign",
	run_sign,
	"sign a build's module with a key the target kernel trusts",
};
