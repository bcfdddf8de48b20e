// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch verify: load a build in its kernel, booted in qemu, and judge. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/kernel.h"
#include "lib/livepatch.h"
#include "lib/qemu.h"
#include "lib/util.h"

/* The kernel image the build targets: --image, else the catalogue's. */
static char *find_image(struct elp_catalogue *cat, const struct elp_lp_build *b,
			const char *image)
{
	struct elp_kernel *k = NULL;
	char spec[32];
	char *path = NULL;

	if (image) {
		if (!elp_is_file(image)) {
			cli_error("cannot use kernel image '%s': no such file",
				  image);
			return NULL;
		}
		return elp_abspath(image);
	}
	snprintf(spec, sizeof(spec), "%lld", (long long)b->kernel_id);
	if (elp_kernel_find(cat, b->kernel_id ? spec : b->kernel_release, &k) ==
		    0 &&
	    k->image_path)
		path = strdup(k->image_path);
	if (!path)
		cli_error(
			"no kernel image for build %lld (kernel %s): add the kernel with 'elivepatch kernel add --image VMLINUZ' or pass --image",
			(long long)b->id, b->kernel_release);
	else if (!elp_is_file(path)) {
		cli_error("kernel image '%s' of kernel '%s' is missing", path,
			  k->name);
		free(path);
		path = NULL;
	}
	elp_kernel_free(k);
	return path;
}

/* <catalogue dir>/verify/build-N-TIME.log */
static char *log_path(struct cli *cli, const struct elp_lp_build *b)
{
	char *db = strdup(cli->db_path), *dir = NULL, *path = NULL;

	if (!db)
		return NULL;
	if (asprintf(&dir, "%s/verify", dirname(db)) < 0)
		dir = NULL;
	if (dir && elp_mkdir_p(cli->ctx, dir, 0755) == 0 &&
	    asprintf(&path, "%s/build-%lld-%lld.log", dir, (long long)b->id,
		     (long long)time(NULL)) < 0)
		path = NULL;
	free(dir);
	free(db);
	return path;
}

/*
 * "2 functions redirected, check script passed, transition 120 ms": what
 * the guest showed; the duration only when the guest measured one.
 */
static char *summary(const struct elp_verify_result *res)
{
	struct elp_buf b = { 0 };

	elp_buf_printf(&b, "%d function%s redirected", res->nr_redirected,
		       res->nr_redirected == 1 ? "" : "s");
	if (res->check_status == 0)
		elp_buf_puts(&b, ", check script passed");
	if (res->transition_ms >= 0)
		elp_buf_printf(&b, ", transition %ld ms", res->transition_ms);
	return b.data;
}

static int record(struct elp_catalogue *cat, const struct elp_lp_build *b,
		  const struct elp_verify_result *res, const char *log)
{
	struct elp_event ev = { .kind = "verify" };
	char *detail = NULL, *what = NULL;
	int err;

	if (res->passed) {
		what = summary(res);
		err = what ? asprintf(&detail, "passed (%s)", what) : -1;
		free(what);
	} else {
		err = asprintf(&detail, "failed: %s", res->reason);
	}
	if (err < 0)
		return -ENOMEM;
	ev.build_id = b->id;
	ev.kernel_id = b->kernel_id;
	ev.kernel_release = b->kernel_release;
	ev.module = b->module_name;
	ev.detail = detail;
	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_lp_build_set_verified(cat, b->id, res->passed, log);
	if (!err)
		err = elp_event_add(cat, &ev);
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	free(detail);
	return err;
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
	struct elp_verify_result res = { 0 };
	struct elp_lp_artefact *a = NULL;
	char *kernel = NULL, *log = NULL;
	int err, rc = 1;

	err = elp_lp_artefact_open(cat, spec, false, &a);
	if (err == -ENOENT && elp_is_file(spec)) {
		cli_error(
			"'%s' is not a build in the catalogue; verify takes a build id",
			spec);
		return 1;
	}
	if (err)
		return 1;
	if (strcmp(a->info->release, a->build->kernel_release) != 0) {
		cli_error(
			"module '%s' is built for kernel %s, but build %lld targets %s",
			a->info->name, a->info->release,
			(long long)a->build->id, a->build->kernel_release);
		goto out;
	}
	kernel = find_image(cat, a->build, image);
	if (!kernel)
		goto out;
	log = log_path(cli, a->build);
	if (!log) {
		cli_error("cannot create the verify log directory next to '%s'",
			  cli->db_path);
		goto out;
	}
	v->kernel = kernel;
	v->module = a->path;
	v->name = a->info->name;
	v->log_path = log;
	if (!cli->quiet && !cli->json)
		fprintf(stderr,
			"booting kernel %s in qemu with build %lld...\n",
			a->build->kernel_release, (long long)a->build->id);
	if (elp_verify_run(cli->ctx, v, &res))
		goto out;
	if (record(cat, a->build, &res, log)) {
		cli_error("could not record the verdict for build %lld",
			  (long long)a->build->id);
		goto out;
	}
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_int(j, "build", a->build->id);
		elp_json_str(j, "kernel", a->build->kernel_release);
		elp_json_str(j, "module", a->info->name);
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
		elp_json_str(j, "log", log);
		elp_json_end(j);
		cli_json_done(j);
	} else {
		char *what = res.passed ? summary(&res) : NULL;

		if (res.passed)
			printf("build %lld: verification passed (%s; log: %s)\n",
			       (long long)a->build->id, what ? what : "", log);
		else
			printf("build %lld: verification failed: %s (log: %s)\n",
			       (long long)a->build->id, res.reason, log);
		free(what);
		if (res.check_status >= 0)
			print_check(&res);
	}
	rc = res.passed ? 0 : 1;
out:
	elp_verify_result_clear(&res);
	free(kernel);
	free(log);
	elp_lp_artefact_free(a);
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
