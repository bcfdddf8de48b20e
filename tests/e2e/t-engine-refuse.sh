#!/bin/sh
# e2e: what a livepatch cannot express safely is refused by the engine with a reason and
# advice: exit 2, a 'refused' build row without an artefact, no module.  No guest is booted.
#   bad-data-layout        the size of existing data changes (acct_parm[3] -> [4])
#   bad-init               __init code changes (proc_cmdline_init)
#   bad-notrace            a notrace function (core_kernel_text)
#   bad-trace-nofentry     a file the kernel builds without ftrace (kernel/trace/trace_stat.c)
#   bad-ftrace-core        the livepatch core itself (kernel/livepatch/core.c)
#   bad-ambiguous          a changed function whose name the target has twice, with nothing
#                          to tell which is this file's (a kallsyms with cmdline_proc_show twice)
#   bad-module-tracepoint  a module function calling the module's own, unexported tracepoints
#                          (ext4_sync_file): its jump labels would be set up unrelocated
#   bad-always-on-stack    kthread(), on the stack of every kernel thread for its whole life:
#                          the transition would never complete
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref "$ks"
# a second cmdline_proc_show right after the first: same neighbours, no way to choose
awk '{ print } $3 == "cmdline_proc_show" && NF == 3 { print }' "$ks" > "$t/kallsyms-dup"
check "kernel add dup (kallsyms with cmdline_proc_show twice)" e2e_add_kernel dup "$t/kallsyms-dup"

# refused KERNEL PATCH REASON...: exit 2 (refused, not failed), stderr has every REASON, one 'refused' row with a
# reason and neither artefact path nor sha256, no module written
refused() {
	_k=$1 _p=$2
	shift 2
	_before=$(q "SELECT coalesce(max(id), 0) FROM builds")
	elp build --kernel "$_k" --patch "$patches/engine-$_p.patch" -o "$t/$_p.ko" \
		> "$t/$_p.out" 2> "$t/$_p.err"
	_rc=$?
	check "$_p: exit status 2 (got $_rc)" [ "$_rc" = 2 ]
	for _r in "$@"; do
		if grep -qF -- "$_r" "$t/$_p.err"; then
			ok "$_p: says '$_r'"
		else
			not_ok "$_p: says '$_r'"
			sed 's/^/# stderr: /' "$t/$_p.err"
		fi
	done
	check "$_p: writes no module" [ ! -e "$t/$_p.ko" ]
	_row=$(q "SELECT status || '|' || (artefact_path IS NULL) || '|' || (artefact_sha256 IS NULL) || '|' || (reason IS NOT NULL) FROM builds WHERE id > $_before")
	check "$_p: one 'refused' row with a reason, artefact_path NULL (got: $_row)" \
		[ "$_row" = "refused|1|1|1" ]
}

refused ref bad-data-layout \
	"kernel/acct.c: acct_parm: size of existing data changed from 12 to 16 bytes" \
	"use a shadow variable"
refused ref bad-init \
	"fs/proc/cmdline.c: proc_cmdline_init: changes .init.text code or data" \
	"move the fix out of __init/__exit code"
refused ref bad-notrace \
	"kernel/extable.c: core_kernel_text: has no ftrace entry" "patch a traceable caller instead"
refused ref bad-trace-nofentry \
	"kernel/trace/trace_stat.c: stat_seq_show: has no ftrace entry" \
	"its file is built without ftrace"
refused ref bad-ftrace-core \
	"kernel/livepatch/core.c: klp_find_object_symbol: belongs to the livepatch/ftrace core" \
	"fix it with a kernel update"
refused dup bad-ambiguous \
	"fs/proc/cmdline.c: cmdline_proc_show: 2 symbols of that name in vmlinux" \
	"none is provably the one of this file"
refused ref bad-module-tracepoint \
	"fs/ext4/fsync.c: ext4_sync_file: calls tracepoint ext4_sync_file_enter of module ext4, which ext4 does not export" \
	"leave the trace call in a function the fix does not change"
refused ref bad-always-on-stack \
	"kernel/kthread.c: kthread: is on the stack of every kernel thread for as long as it lives or sleeps" \
	"patch the functions it calls instead"

check "no artefact recorded for any refused build" \
	[ "$(q "SELECT count(*) FROM builds WHERE status = 'refused' AND (artefact_path IS NOT NULL OR artefact_sha256 IS NOT NULL)")" = 0 ]
check "nothing but refusals" [ "$(q "SELECT count(*) FROM builds WHERE status != 'refused'")" = 0 ]
t_done
