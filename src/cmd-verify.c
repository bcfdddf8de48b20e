// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch verify: load a build in its kernel, booted in qemu, and judge. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/artefact.h"
#include "lib/util.h"

/* said before the boot, which takes a while */
static void booting(void *data, const struct elp_lp_build *b)
{
	struct cli *cli = data;

	if (!cli->quiet && !cli->json)
		fprintf(stderr,
			"booting kernel %s in qemu with build %lld...\n",
			b->kernel_release, (long long)b->id);
}

/* the check script's status and output, as the guest reported them */
static void print_check(const struct elp_verify_result *res)
{
	const char *line = res->check_output;

	printf("check script: exit status %d\n", res->check_status);
	while (line && *line) {
		size_t len = strcspn(line, "\n");

		printf("  | %.*s\n", (int)len, line);
		line += len;
		if (*line)
			line++;
	}
}

static int verify(struct cli *cli, struct elp_catalogue *cat, const char *spec,
		  struct elp_verify *v, const char *image)
{
	struct elp_build_verify bv = { .image = image,
				       .booting = booting,
				       .data = cli };
	struct elp_verify_result res = { 0 };
	const struct elp_lp_build *b;
	int rc = 1;

	if (elp_build_verify(cat, spec, v, &bv, &res))
		goto out;
	b = bv.artefact->build;
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_int(j, "build", b->id);
		elp_json_str(j, "kernel", b->kernel_release);
		elp_json_str(j, "module", bv.artefact->info->name);
		elp_json_str(j, "verdict", res.passed ? "passed" : "failed");
		elp_json_str(j, "reason", res.reason);
		if (res.transition_ms >= 0)
			elp_json_int(j, "transition_ms", res.transition_ms);
		elp_json_int(j, "functions", res.nr_funcs);
		elp_json_int(j, "redirected", res.nr_redirected);
		if (res.check_status >= 0) {
			elp_json_int(j, "check_status", res.check_status);
			elp_json_str(j, "check_output",
				     res.check_output ? res.check_output : "");
		}
		elp_json_str(j, "log", bv.log_path);
		elp_json_end(j);
		cli_json_done(j);
	} else {
		char *what = res.passed ? elp_verify_summary(&res) : NULL;

		if (res.passed)
			printf("build %lld: verification passed (%s; log: %s)\n",
			       (long long)b->id, what ? what : "", bv.log_path);
		else
			printf("build %lld: verification failed: %s (log: %s)\n",
			       (long long)b->id, res.reason, bv.log_path);
		free(what);
		if (res.check_status >= 0)
			print_check(&res);
	}
	rc = res.passed ? 0 : 1;
out:
	elp_verify_result_clear(&res);
	elp_build_verify_release(&bv);
	return rc;
}

static int run_verify(struct cli *cli, int argc, const char **argv)
{
	char *image = NULL, *check = NULL, *exercise = NULL, *append = NULL,
	     *busybox = NULL;
	struct elp_verify v = { 0 };
	struct elp_catalogue *cat;
	int wait_s = 30, timeout_s = 120, rc;
	const char *spec;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "image", 0, POPT_ARG_STRING, &image, 0,
		  "kernel image to boot (default: the build's kernel's)",
		  "VMLINUZ" },
		{ "check", 0, POPT_ARG_STRING, &check, 0,
		  "the patch's own check: a shell script run in the guest while patched; non-zero fails",
		  "SCRIPT" },
		{ "exercise", 0, POPT_ARG_STRING | POPT_ARGFLAG_DOC_HIDDEN,
		  &exercise, 0, "old name of --check", "SCRIPT" },
		{ "wait", 0, POPT_ARG_INT, &wait_s, 0,
		  "seconds to wait for each transition (default 30)",
		  "SECONDS" },
		{ "timeout", 0, POPT_ARG_INT, &timeout_s, 0,
		  "seconds for the whole boot (default 120)", "SECONDS" },
		{ "append", 0, POPT_ARG_STRING, &append, 0,
		  "extra kernel command line", "ARGS" },
		{ "busybox", 0, POPT_ARG_STRING, &busybox, 0,
		  "static busybox for the guest (default /bin/busybox)",
		  "FILE" },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[<options>] BUILD", options, argc, argv, &pc, &spec,
			   &done);
	if (rc || done)
		goto out_opts;
	if (wait_s <= 0 || timeout_s <= 0) {
		rc = cli_usage_error(pc,
				     "invalid --%s %d: expected seconds > 0",
				     wait_s <= 0 ? "wait" : "timeout",
				     wait_s <= 0 ? wait_s : timeout_s);
		goto out;
	}
	if (!check && exercise) {
		check = exercise;
		exercise = NULL;
	}
	if (check && !elp_is_file(check)) {
		rc = 1;
		cli_error("cannot use check script '%s': no such file", check);
		goto out;
	}
	v.check = check;
	v.append = append;
	v.busybox = busybox;
	v.transition_s = wait_s;
	v.timeout_s = timeout_s;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	rc = verify(cli, cat, spec, &v, image);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
out_opts:
	free(image);
	free(check);
	free(exercise);
	free(append);
	free(busybox);
	return rc;
}

const struct command cmd_verify = {
	"verify",
	run_verify,
	"boot the build's kernel in qemu and check the livepatch there",
};
