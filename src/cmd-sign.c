// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch sign: sign a build's module for a kernel that checks signatures. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/kernel.h"
#include "lib/livepatch.h"
#include "lib/sign.h"
#include "lib/util.h"

/* CONFIG_MODULE_SIG and CONFIG_MODULE_SIG_HASH of the build's kernel. */
static void kernel_policy(struct elp_catalogue *cat,
			  const struct elp_lp_build *b, int *sig, char **hash)
{
	struct elp_kernel *k = NULL;
	char spec[32];
	char *v;

	*sig = -1; /* unknown */
	*hash = NULL;
	snprintf(spec, sizeof(spec), "%lld", (long long)b->kernel_id);
	if (elp_kernel_find(cat, b->kernel_id ? spec : b->kernel_release, &k) !=
		    0 ||
	    !k->config) {
		elp_kernel_free(k);
		return;
	}
	v = elp_config_get(k->config, "CONFIG_MODULE_SIG");
	*sig = v && strcmp(v, "y") == 0;
	free(v);
	*hash = elp_config_get(k->config, "CONFIG_MODULE_SIG_HASH");
	elp_kernel_free(k);
}

static int sign(struct cli *cli, struct elp_catalogue *cat, const char *spec,
		struct elp_sign_opts *opts)
{
	struct elp_event ev = { .kind = "sign" };
	char sha[ELP_SHA256_HEX_LEN + 1];
	struct elp_lp_artefact *a = NULL;
	char *hash = NULL, *signer = NULL, detail[512];
	int err, sig = -1, rc = 1;

	err = elp_lp_artefact_open(cat, spec, true, &a);
	if (err && err != -ENOENT)
		return 1;
	if (!a) /* -ENOENT without a module: already explained */
		return 1;
	if (a->build) {
		kernel_policy(cat, a->build, &sig, &hash);
		if (sig == 0)
			cli_warn(
				"kernel %s does not check module signatures (no CONFIG_MODULE_SIG); signing anyway",
				a->build->kernel_release);
		if (!opts->hash && hash)
			opts->hash = hash;
	}
	if (elp_module_sign(cli->ctx, a->path, opts, &signer))
		goto out;
	if (elp_sha256_file(cli->ctx, a->path, sha))
		goto out;
	if (a->build) {
		snprintf(detail, sizeof(detail),
			 "signed by '%s' (%s), sha256 %.16s", signer,
			 opts->hash ? opts->hash : "sha256", sha);
		ev.build_id = a->build->id;
		ev.kernel_id = a->build->kernel_id;
		ev.kernel_release = a->build->kernel_release;
		ev.module = a->info->name;
		ev.detail = detail;
		if (elp_catalogue_begin(cat) ||
		    elp_lp_build_set_sha256(cat, a->build->id, sha) ||
		    elp_event_add(cat, &ev) || elp_catalogue_commit(cat)) {
			elp_catalogue_rollback(cat);
			cli_error(
				"'%s' is signed but the catalogue still has its old sha256",
				a->path);
			goto out;
		}
	}
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_id(j, "build", a->build ? a->build->id : 0);
		elp_json_str(j, "module", a->path);
		elp_json_str(j, "signer", signer);
		elp_json_str(j, "hash", opts->hash ? opts->hash : "sha256");
		elp_json_str(j, "sha256", sha);
		elp_json_end(j);
		cli_json_done(j);
	} else if (a->build) {
		printf("signed build %lld ('%s') with key '%s'\n",
		       (long long)a->build->id, a->path, signer);
	} else {
		printf("signed '%s' with key '%s'\n", a->path, signer);
	}
	rc = 0;
out:
	if (opts->hash == hash)
		opts->hash = NULL;
	free(hash);
	free(signer);
	elp_lp_artefact_free(a);
	return rc;
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
