// SPDX-License-Identifier: GPL-2.0-or-later
/* qemu boots with a generated initramfs, and the livepatch verify run. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "qemu.h"
#include "util.h"

/* --- initramfs ---------------------------------------------------------------- */

struct elp_initramfs {
	struct elp_ctx *ctx;
	struct archive *a;
	char *path;
	int err; /* first failure, sticky */
};

static int ir_fail(struct elp_initramfs *ir, const char *what)
{
	if (!ir->err) {
		elp_err(ir->ctx, "cannot write initramfs '%s': %s: %s",
			ir->path, what, archive_error_string(ir->a));
		ir->err =
			archive_errno(ir->a) > 0 ? -archive_errno(ir->a) : -EIO;
	}
	return ir->err;
}

int elp_initramfs_open(struct elp_ctx *ctx, const char *path,
		       struct elp_initramfs **out)
{
	struct elp_initramfs *ir = calloc(1, sizeof(*ir));

	if (!ir)
		return -ENOMEM;
	ir->ctx = ctx;
	ir->path = strdup(path);
	ir->a = archive_write_new();
	if (!ir->path || !ir->a) {
		archive_write_free(ir->a);
		free(ir->path);
		free(ir);
		return -ENOMEM;
	}
	if (archive_write_set_format_cpio_newc(ir->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(ir->a) != ARCHIVE_OK ||
	    archive_write_open_filename(ir->a, path) != ARCHIVE_OK) {
		int err = ir_fail(ir, "open");

		archive_write_free(ir->a);
		free(ir->path);
		free(ir);
		return err;
	}
	*out = ir;
	return 0;
}

static struct archive_entry *entry_new(const char *path, unsigned int type,
				       int mode, size_t size)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	/* cpio paths are relative: "bin/busybox" */
	while (*path == '/')
		path++;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, (mode_t)mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_nlink(e, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_mtime(e, 0, 0);
	return e;
}

static int write_entry(struct elp_initramfs *ir, struct archive_entry *e,
		       const void *data, size_t len)
{
	int err = 0;

	if (ir->err) {
		archive_entry_free(e);
		return ir->err;
	}
	if (!e)
		return ir->err = -ENOMEM;
	if (archive_write_header(ir->a, e) != ARCHIVE_OK)
		err = ir_fail(ir, archive_entry_pathname(e));
	else if (len && archive_write_data(ir->a, data, len) != (la_ssize_t)len)
		err = ir_fail(ir, archive_entry_pathname(e));
	archive_entry_free(e);
	return err;
}

int elp_initramfs_dir(struct elp_initramfs *ir, const char *path)
{
	return write_entry(ir, entry_new(path, AE_IFDIR, 0755, 0), NULL, 0);
}

int elp_initramfs_data(struct elp_initramfs *ir, const char *path,
		       const void *data, size_t len, int mode)
{
	return write_entry(ir, entry_new(path, AE_IFREG, mode, len), data, len);
}

int elp_initramfs_file(struct elp_initramfs *ir, const char *path,
		       const char *host_path, int mode)
{
	char *data = NULL;
	size_t len = 0;
	int err;

	if (ir->err)
		return ir->err;
	err = elp_read_file(ir->ctx, host_path, &data, &len);
	if (err)
		return ir->err = err;
	err = elp_initramfs_data(ir, path, data, len, mode);
	free(data);
	return err;
}

int elp_initramfs_chardev(struct elp_initramfs *ir, const char *path,
			  unsigned int major, unsigned int minor)
{
	struct archive_entry *e = entry_new(path, AE_IFCHR, 0600, 0);

	if (e)
		archive_entry_set_rdev(e, makedev(major, minor));
	return write_entry(ir, e, NULL, 0);
}

int elp_initramfs_close(struct elp_initramfs *ir)
{
	int err = ir->err;

	if (archive_write_close(ir->a) != ARCHIVE_OK && !err)
		err = ir_fail(ir, "close");
	archive_write_free(ir->a);
	free(ir->path);
	free(ir);
	return err;
}

bool elp_is_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	bool ok = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int i;

	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		goto out;
	ok = true;
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph)) {
			ok = false;
			break;
		}
		if (ph.p_type == PT_INTERP) {
			ok = false;
			break;
		}
	}
out:
	close(fd);
	return ok;
}

/* --- qemu ------------------------------------------------------------------- */

int elp_qemu_boot(struct elp_ctx *ctx, const struct elp_qemu *q)
{
	char timeout[16], *append = NULL;
	const char *argv[32];
	int fd, rc, n = 0;

	fd = open(q->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		elp_err(ctx, "cannot write '%s': %s", q->log_path,
			strerror(errno));
		return rc;
	}
	if (asprintf(&append, "console=ttyS0 quiet panic=-1%s%s",
		     q->append && *q->append ? " " : "",
		     q->append ? q->append : "") < 0) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(timeout, sizeof(timeout), "%d",
		 q->timeout_s > 0 ? q->timeout_s : 120);
	argv[n++] = "timeout";
	argv[n++] = "-k";
	argv[n++] = "5";
	argv[n++] = timeout;
	argv[n++] = "qemu-system-x86_64";
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	argv[n++] = "-m";
	argv[n++] = q->memory ? q->memory : "512M";
	argv[n++] = "-smp";
	argv[n++] = "1";
	argv[n++] = "-nographic";
	argv[n++] = "-no-reboot";
	argv[n++] = "-nic";
	argv[n++] = "none";
	argv[n++] = "-kernel";
	argv[n++] = q->kernel;
	argv[n++] = "-initrd";
	argv[n++] = q->initrd;
	argv[n++] = "-append";
	argv[n++] = append;
	argv[n] = NULL;
	elp_dbg(ctx, "booting %s in qemu (timeout %s s, log %s)", q->kernel,
		timeout, q->log_path);
	rc = elp_run(ctx, argv, NULL, fd, NULL);
	close(fd);
	free(append);
	if (rc == -ENOENT || rc == -EACCES) {
		elp_err(ctx,
			"cannot run qemu-system-x86_64 (is it installed? apt-get install qemu-system-x86)");
		return -ENOENT;
	}
	if (rc < 0) {
		elp_err(ctx, "cannot run qemu-system-x86_64: %s",
			strerror(-rc));
		return rc;
	}
	switch (rc) {
	case 0:
		return 0;
	case 124:
	case 128 + 9:
		return -ETIMEDOUT;
	case 125:
	case 126:
	case 127:
		elp_err(ctx,
			"cannot run qemu-system-x86_64 (is it installed? apt-get install qemu-system-x86)");
		return -ENOENT;
	default:
		elp_dbg(ctx, "qemu exited with status %d", rc);
		return -EIO;
	}
}

/* --- verify ------------------------------------------------------------------- */

/*
 * The guest's /init.  %1$s: module name, %2$d: transition timeout in
 * tenths of a second.  Markers ELP-VERIFY-* are what the host judges.
 * Durations are measured in the guest, on its own clock (/proc/uptime):
 * the host's clock runs on while qemu boots.  ftrace's enabled_functions
 * lists the functions it redirects: every function the livepatch
 * registered (its klp_funcs, as sysfs shows them) must be there once the
 * patch is in place, and none once it is disabled.
 */
static const char init_script[] =
	"#!/bin/busybox sh\n"
	"/bin/busybox --install -s /bin\n"
	"export PATH=/bin\n"
	"mount -t proc proc /proc\n"
	"mount -t sysfs sysfs /sys\n"
	"mount -t devtmpfs devtmpfs /dev 2>/dev/null\n"
	"mkdir -p /tmp\n"
	"name=%1$s\n"
	"lp=/sys/kernel/livepatch/$name\n"
	"ef=/sys/kernel/tracing/enabled_functions\n"
	"finish() {\n"
	"\techo ELP-VERIFY-DMESG-BEGIN\n"
	"\tdmesg\n"
	"\techo ELP-VERIFY-DMESG-END\n"
	"\techo ELP-VERIFY-END\n"
	"\tsync\n"
	"\tpoweroff -f\n"
	"\tsleep 60\n"
	"}\n"
	"now() {\n"
	"\tread -r _u _i < /proc/uptime\n"
	"\t_c=${_u#*.}\n"
	"\techo $(( ${_u%%%%.*} * 100 + ${_c#0} ))\n"
	"}\n"
	"wait_lp() {\n"
	"\t_n=%2$d\n"
	"\twhile [ $_n -gt 0 ]; do\n"
	"\t\t[ -d $lp ] || return 0\n"
	"\t\t[ \"$(cat $lp/transition 2>/dev/null)\" = 0 ] && return 0\n"
	"\t\tusleep 100000\n"
	"\t\t_n=$((_n - 1))\n"
	"\tdone\n"
	"\treturn 1\n"
	"}\n"
	"blocked() {\n"
	"\tfor _t in /proc/[0-9]*/task/[0-9]*; do\n"
	"\t\t_s=$(cat $_t/patch_state 2>/dev/null)\n"
	"\t\tcase $_s in ''|-1|$1) continue ;; esac\n"
	"\t\techo \"ELP-VERIFY-BLOCKED ${_t#/proc/} $(cat $_t/comm)\"\n"
	"\t\tsed 's/^/ELP-VERIFY-STACK /' $_t/stack\n"
	"\tdone\n"
	"}\n"
	"redirect() {\n"
	"\tif [ ! -f $ef ]; then echo ELP-VERIFY-REDIRECT-UNKNOWN; return; fi\n"
	"\twhile read -r _o _f; do\n"
	"\t\tif [ $_o != vmlinux ] && [ ! -d /sys/module/$_o ]; then\n"
	"\t\t\t_s=unloaded\n"
	"\t\telif grep -q \"^${_f%%,*}[ \t]\" $ef; then\n"
	"\t\t\t_s=redirected\n"
	"\t\telse\n"
	"\t\t\t_s=direct\n"
	"\t\tfi\n"
	"\t\techo \"ELP-VERIFY-REDIRECT-$1 $_o $_f $_s\"\n"
	"\tdone < /tmp/funcs\n"
	"}\n"
	"echo \"ELP-VERIFY-BEGIN $(uname -r)\"\n"
	"[ -f $ef ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null\n"
	": > /tmp/funcs\n"
	"t0=$(now)\n"
	"insmod /lp.ko\n"
	"rc=$?\n"
	"echo \"ELP-VERIFY-INSMOD $rc\"\n"
	"[ $rc = 0 ] || finish\n"
	"for _f in $lp/*/*/; do\n"
	"\t[ -d \"$_f\" ] || continue\n"
	"\t_f=${_f%%/}\n"
	"\t_o=${_f%%/*}\n"
	"\techo \"${_o##*/} ${_f##*/}\" >> /tmp/funcs\n"
	"\techo \"ELP-VERIFY-FUNC ${_f##*/}\"\n"
	"done\n"
	"if wait_lp; then\n"
	"\tt1=$(now)\n"
	"\tif [ -n \"$t0\" ] && [ -n \"$t1\" ] && [ $t1 -ge $t0 ]; then\n"
	"\t\techo \"ELP-VERIFY-TRANSITION done $(( (t1 - t0) * 10 ))\"\n"
	"\telse\n"
	"\t\techo ELP-VERIFY-TRANSITION done\n"
	"\tfi\n"
	"\tredirect ON\n"
	"else\n"
	"\techo ELP-VERIFY-TRANSITION timeout\n"
	"\tblocked 1\n"
	"fi\n"
	"# a smoke test of common paths, whatever the patch changed\n"
	"for _f in /proc/cmdline /proc/version /proc/meminfo /proc/stat /proc/uptime \\\n"
	"\t/proc/loadavg /proc/self/status /proc/self/maps /proc/modules \\\n"
	"\t/proc/filesystems /proc/interrupts; do\n"
	"\tcat $_f > /dev/null 2>&1\n"
	"done\n"
	"uname -a > /dev/null\n"
	"ls -lR /sys/kernel/livepatch /dev > /dev/null 2>&1\n"
	"echo x | cat > /dev/null\n"
	"if [ -f /check ]; then\n"
	"\tsh /check > /tmp/check.out 2>&1\n"
	"\trc=$?\n"
	"\tsed 's/^/ELP-VERIFY-CHECK-OUT /' /tmp/check.out\n"
	"\techo \"ELP-VERIFY-CHECK $rc\"\n"
	"fi\n"
	"if echo 0 > $lp/enabled; then echo ELP-VERIFY-DISABLE 0; else echo ELP-VERIFY-DISABLE 1; fi\n"
	"if wait_lp; then\n"
	"\techo ELP-VERIFY-UNPATCH done\n"
	"\tredirect OFF\n"
	"else\n"
	"\techo ELP-VERIFY-UNPATCH timeout\n"
	"\tblocked 0\n"
	"fi\n"
	"_n=50\n"
	"until rmmod $name 2>/dev/null; do\n"
	"\t_n=$((_n - 1))\n"
	"\t[ $_n -gt 0 ] || break\n"
	"\tusleep 100000\n"
	"done\n"
	"if [ $_n -gt 0 ]; then echo ELP-VERIFY-RMMOD 0; else echo ELP-VERIFY-RMMOD 1; fi\n"
	"finish\n";

static const char *const bad_patterns[] = {
	"Oops",
	"BUG:",
	"WARNING:",
	"Call Trace",
	"general protection fault",
	"kernel BUG at",
	"Kernel panic",
	"livepatch: failed",
	"detected stall", /* rcu: INFO: rcu_sched (self-)detected stall(s) */
	"blocked for more than", /* the hung task detector */
	NULL,
};

struct verdict {
	bool begin, end, transition_done, unpatched, disabled, rmmod;
	bool redirect_unknown;
	int insmod, check; /* -1: not seen */
	int nr_funcs, nr_on, nr_redirected, nr_off;
	char *not_redirected; /* "func of obj": first not redirected when on */
	char *still_redirected; /* ... first still redirected when off */
	struct elp_buf check_output;
	long transition_ms;
	char *bad_line;
	struct elp_buf funcs; /* "\nname,1\nname2,1\n" */
	struct elp_buf blocked; /* "comm (pid N) in func; ..." */
	char *blocked_pending; /* the last BLOCKED task, function unknown */
};

static int marker(const char *line, const char *name, const char **rest)
{
	size_t len = strlen(name);

	if (strncmp(line, name, len) != 0 ||
	    (line[len] != ' ' && line[len] != '\0'))
		return 0;
	*rest = line[len] ? line + len + 1 : line + len;
	return 1;
}

static void flush_blocked(struct verdict *v, const char *function)
{
	if (!v->blocked_pending)
		return;
	elp_buf_printf(&v->blocked, "%s%s%s%s", v->blocked.len ? "; " : "",
		       v->blocked_pending, function ? " in " : "",
		       function ? function : "");
	free(v->blocked_pending);
	v->blocked_pending = NULL;
}

/* A stack line "[<0>] kthreadd+0x10b/0x1a0" naming a patched function. */
static void stack_line(struct verdict *v, const char *rest)
{
	const char *sym = strchr(rest, ']');
	const char *f;
	size_t len;

	if (!v->blocked_pending || !sym || !v->funcs.data)
		return;
	sym++;
	while (*sym == ' ')
		sym++;
	len = strcspn(sym, "+ ");
	for (f = v->funcs.data; *f;) {
		const char *end = strchrnul(f, '\n');
		size_t flen = strcspn(f, ",\n");

		if (flen == len && strncmp(f, sym, len) == 0) {
			char *name = strndup(sym, len);

			flush_blocked(v, name);
			free(name);
			return;
		}
		f = *end ? end + 1 : end;
	}
}

/* "OBJ FUNC,POS STATE" after ELP-VERIFY-REDIRECT-ON/OFF */
static void redirect_line(struct verdict *v, const char *rest, bool on)
{
	char obj[128], func[256], state[16];
	char **first = on ? &v->not_redirected : &v->still_redirected;
	const char *bad = on ? "direct" : "redirected";

	if (sscanf(rest, "%127s %255s %15s", obj, func, state) != 3)
		return;
	if (on)
		v->nr_on++;
	else
		v->nr_off++;
	if (on && strcmp(state, "redirected") == 0)
		v->nr_redirected++;
	if (!*first && strcmp(state, bad) == 0 &&
	    asprintf(first, "%s of %s", func, obj) < 0)
		*first = NULL;
}

static void parse_line(struct verdict *v, char *line)
{
	const char *rest;
	char *m = strstr(line, "ELP-VERIFY-");
	size_t i;

	/* the console may put escape sequences before a marker */
	if (m)
		line = m;
	if (marker(line, "ELP-VERIFY-BEGIN", &rest)) {
		v->begin = true;
	} else if (marker(line, "ELP-VERIFY-END", &rest)) {
		v->end = true;
	} else if (marker(line, "ELP-VERIFY-INSMOD", &rest)) {
		v->insmod = atoi(rest);
	} else if (marker(line, "ELP-VERIFY-FUNC", &rest)) {
		elp_buf_printf(&v->funcs, "%s\n", rest);
		v->nr_funcs++;
	} else if (marker(line, "ELP-VERIFY-TRANSITION", &rest)) {
		v->transition_done = strncmp(rest, "done", 4) == 0;
		/* a duration the guest could not measure is not reported */
		if (v->transition_done && rest[4] == ' ' && atol(rest + 5) >= 0)
			v->transition_ms = atol(rest + 5);
	} else if (marker(line, "ELP-VERIFY-REDIRECT-ON", &rest)) {
		redirect_line(v, rest, true);
	} else if (marker(line, "ELP-VERIFY-REDIRECT-OFF", &rest)) {
		redirect_line(v, rest, false);
	} else if (marker(line, "ELP-VERIFY-REDIRECT-UNKNOWN", &rest)) {
		v->redirect_unknown = true;
	} else if (marker(line, "ELP-VERIFY-BLOCKED", &rest)) {
		/* "PID/task/TID COMM" */
		const char *comm = strchr(rest, ' ');

		flush_blocked(v, NULL);
		if (asprintf(&v->blocked_pending, "%s (pid %d)",
			     comm ? comm + 1 : "?", atoi(rest)) < 0)
			v->blocked_pending = NULL;
	} else if (marker(line, "ELP-VERIFY-STACK", &rest)) {
		stack_line(v, rest);
	} else if (marker(line, "ELP-VERIFY-CHECK-OUT", &rest)) {
		elp_buf_printf(&v->check_output, "%s\n", rest);
	} else if (marker(line, "ELP-VERIFY-CHECK", &rest)) {
		v->check = atoi(rest);
	} else if (marker(line, "ELP-VERIFY-DISABLE", &rest)) {
		v->disabled = atoi(rest) == 0;
	} else if (marker(line, "ELP-VERIFY-UNPATCH", &rest)) {
		flush_blocked(v, NULL);
		v->unpatched = strncmp(rest, "done", 4) == 0;
	} else if (marker(line, "ELP-VERIFY-RMMOD", &rest)) {
		flush_blocked(v, NULL);
		v->rmmod = atoi(rest) == 0;
	} else if (!v->bad_line && strncmp(line, "ELP-VERIFY-", 11) != 0) {
		for (i = 0; bad_patterns[i]; i++)
			if (strstr(line, bad_patterns[i])) {
				v->bad_line = strdup(line);
				break;
			}
	}
}

static char *judge(struct verdict *v, int boot, int transition_s)
{
	char *why = NULL;
	int r = 0;

	flush_blocked(v, NULL);
	if (!v->begin)
		r = asprintf(&why,
			     "the kernel did not reach the verify script%s",
			     boot == -ETIMEDOUT ? " (timed out)" : "");
	else if (v->insmod != 0)
		r = asprintf(&why,
			     "the module did not load (insmod status %d)%s%s",
			     v->insmod, v->bad_line ? ": " : "",
			     v->bad_line ? v->bad_line : "");
	else if (v->bad_line)
		r = asprintf(&why, "the kernel log shows: %s", v->bad_line);
	else if (!v->transition_done)
		r = asprintf(&why,
			     "the transition did not finish in %d s%s%s%s",
			     transition_s, v->blocked.len ? " (blocked: " : "",
			     v->blocked.len ? v->blocked.data : "",
			     v->blocked.len ? ")" : "");
	else if (v->check > 0)
		r = asprintf(&why, "the check script failed (status %d)",
			     v->check);
	else if (v->not_redirected)
		r = asprintf(
			&why,
			"function %s is not redirected after the transition (ftrace does not list it)",
			v->not_redirected);
	else if (!v->disabled)
		r = asprintf(&why, "the livepatch could not be disabled");
	else if (!v->unpatched)
		r = asprintf(&why,
			     "the transition back did not finish in %d s%s%s%s",
			     transition_s, v->blocked.len ? " (blocked: " : "",
			     v->blocked.len ? v->blocked.data : "",
			     v->blocked.len ? ")" : "");
	else if (v->still_redirected)
		r = asprintf(
			&why,
			"function %s is still redirected after the livepatch was disabled",
			v->still_redirected);
	else if (!v->rmmod)
		r = asprintf(&why, "the module could not be unloaded");
	else if (boot == -ETIMEDOUT || !v->end)
		r = asprintf(&why, "the guest did not finish%s",
			     boot == -ETIMEDOUT ? " (timed out)" : " (panic?)");
	else if (v->nr_funcs == 0)
		r = asprintf(&why,
			     "the livepatch registered no function in sysfs");
	else if (v->redirect_unknown)
		r = asprintf(
			&why,
			"cannot tell whether the patched functions are redirected: the guest has no ftrace enabled_functions");
	else if (v->nr_on != v->nr_funcs || v->nr_off != v->nr_funcs)
		r = asprintf(
			&why,
			"the guest checked %d and %d of %d functions for redirection (patched, disabled)",
			v->nr_on, v->nr_off, v->nr_funcs);
	if (r < 0)
		return strdup("out of memory");
	return why;
}

void elp_verify_result_clear(struct elp_verify_result *res)
{
	free(res->reason);
	res->reason = NULL;
	free(res->check_output);
	res->check_output = NULL;
}

int elp_verify_judge(char *log, int boot, int transition_s,
		     struct elp_verify_result *res)
{
	struct verdict vd = { .insmod = -1, .check = -1, .transition_ms = -1 };
	char *line;

	memset(res, 0, sizeof(*res));
	for (line = log; line && *line;) {
		char *end = strchrnul(line, '\n');
		bool more = *end != '\0';

		*end = '\0';
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		parse_line(&vd, line);
		line = more ? end + 1 : NULL;
	}
	res->reason = judge(&vd, boot, transition_s);
	res->passed = res->reason == NULL;
	res->transition_ms = vd.transition_ms;
	res->nr_funcs = vd.nr_funcs;
	res->nr_redirected = vd.nr_redirected;
	res->check_status = vd.check;
	if (vd.check_output.len) {
		res->check_output = vd.check_output.data;
		vd.check_output.data = NULL;
	}
	elp_buf_free(&vd.check_output);
	free(vd.not_redirected);
	free(vd.still_redirected);
	free(vd.bad_line);
	free(vd.blocked_pending);
	elp_buf_free(&vd.funcs);
	elp_buf_free(&vd.blocked);
	return 0;
}

static int build_initramfs(struct elp_ctx *ctx, const struct elp_verify *v,
			   const char *path)
{
	const char *busybox = v->busybox ? v->busybox : "/bin/busybox";
	int tenths = (v->transition_s > 0 ? v->transition_s : 30) * 10;
	struct elp_initramfs *ir = NULL;
	char *init = NULL;
	int err;

	if (!elp_is_static_elf(busybox)) {
		elp_err(ctx,
			"'%s' is not a static executable: the guest needs a static busybox (apt-get install busybox-static)",
			busybox);
		return -ENOEXEC;
	}
	if (asprintf(&init, init_script, v->name, tenths) < 0)
		return -ENOMEM;
	err = elp_initramfs_open(ctx, path, &ir);
	if (err || !ir) {
		free(init);
		return err ? err : -ENOMEM;
	}
	elp_initramfs_dir(ir, "bin");
	elp_initramfs_dir(ir, "dev");
	elp_initramfs_dir(ir, "proc");
	elp_initramfs_dir(ir, "sys");
	elp_initramfs_dir(ir, "tmp");
	elp_initramfs_chardev(ir, "dev/console", 5, 1);
	elp_initramfs_file(ir, "bin/busybox", busybox, 0755);
	elp_initramfs_data(ir, "init", init, strlen(init), 0755);
	elp_initramfs_file(ir, "lp.ko", v->module, 0644);
	if (v->check)
		elp_initramfs_file(ir, "check", v->check, 0755);
	free(init);
	return elp_initramfs_close(ir);
}

int elp_verify_run(struct elp_ctx *ctx, const struct elp_verify *v,
		   struct elp_verify_result *res)
{
	char dir[] = "/tmp/elivepatch-verify.XXXXXX";
	char *initrd = NULL, *log = NULL;
	struct elp_qemu q = { 0 };
	size_t len = 0;
	int boot, err;

	memset(res, 0, sizeof(*res));
	res->transition_ms = -1;
	res->check_status = -1;
	{
		const char *tmp = getenv("TMPDIR");
		char *t = NULL;

		if (tmp && *tmp &&
		    asprintf(&t, "%s/elivepatch-verify.XXXXXX", tmp) > 0 &&
		    strlen(t) < sizeof(dir))
			strcpy(dir, t);
		free(t);
	}
	if (!mkdtemp(dir)) {
		err = -errno;
		elp_err(ctx, "cannot create a temporary directory: %s",
			strerror(errno));
		return err;
	}
	if (asprintf(&initrd, "%s/initrd.gz", dir) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = build_initramfs(ctx, v, initrd);
	if (err)
		goto out;
	q.kernel = v->kernel;
	q.initrd = initrd;
	q.append = v->append;
	q.timeout_s = v->timeout_s > 0 ? v->timeout_s : 120;
	q.log_path = v->log_path;
	boot = elp_qemu_boot(ctx, &q);
	if (boot == -ENOENT ||
	    (boot < 0 && boot != -ETIMEDOUT && boot != -EIO)) {
		err = boot;
		goto out;
	}
	err = elp_read_file(ctx, v->log_path, &log, &len);
	if (err)
		goto out;
	err = elp_verify_judge(log, boot,
			       v->transition_s > 0 ? v->transition_s : 30, res);
out:
	free(log);
	if (initrd)
		unlink(initrd);
	free(initrd);
	rmdir(dir);
	return err;
}
