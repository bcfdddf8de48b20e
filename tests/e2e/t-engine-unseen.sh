#!/bin/sh
# e2e: acceptance with patches the engine was not developed against, built with `elivepatch
# build` and run in one guest of the reference kernel (tests/e2e/patches/unseen-*.patch):
#   hostname-einval     sethostname (a SYSCALL_DEFINE body) refuses a name with "/": -EINVAL
#   static-helper       show_cpuinfo calls a new static noinline helper (in the livepatch only)
#   module-loop         loop.ko: the sysfs offset attribute (its show function is inlined into
#                       the one the attribute table points at)
#   exported-file-path  file_path, an EXPORT_SYMBOL function, as loop.ko calls it
#   static-key          proc_sched_show_task (kernel/sched/debug.c, which is not built by
#                       itself: build_utility.c #includes it) prints a line in its
#                       schedstat_enabled() block: the jump label follows the kernel's key,
#                       toggled by kernel.sched_schedstats while patched
#   switch-table        a switch gcc turns into a lookup table of strings (CSWTCH) in
#                       proc_pid_personality (linux32 shows another entry of it)
#   included-two        two files of kernel/sched/build_utility.c (stats.c and debug.c): one
#                       unit; the new string renumbers gcc's .LC labels of merged constants
#                       further down, which changes no other function (sugov_start)
#   rodata-static       a string of the static const table task_state_array: its users in
#                       fs/proc/array.c are patched and read the livepatch's table
#   ops-statfs          shmem_statfs, reached only through shmem_ops (super_operations)
#   ambiguous-local     s_show of kernel/kallsyms.c, one of four static s_show in vmlinux;
#                       BTF_ID() symbols renumbered by the lines added above them
#   signature           set_one_prio loses a parameter, its three callers change with it
#   new-percpu          a new DEFINE_PER_CPU counter (the livepatch's own per-cpu area)
#   new-mutex           a new static mutex (its initializer points into itself) and counter
#   warn-once           a WARN_ON_ONCE and a new message in proc_do_uts_string: the warning
#                       names the patched line, once; the message every time
#   bad-ctl-table       refused: a ctl_table initializer (existing data) changes
#   bad-global-const    refused: a global const table that other files read
#                       (sched_prio_to_weight)
#   always-inline       refused: an __always_inline helper of lib/, which is built without
#                       ftrace (its caller strncpy_from_user has no ftrace entry)
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref

all="hostname-einval static-helper module-loop exported-file-path static-key switch-table
	included-two rodata-static ops-statfs ambiguous-local signature new-percpu new-mutex
	warn-once"
e2e_build_patches unseen "$all" --no-cumulative
e2e_fn_is hostname-einval "vmlinux:__ia32_sys_sethostname vmlinux:__x64_sys_sethostname " \
	"both syscall wrappers"
e2e_fn_is static-helper "vmlinux:show_cpuinfo " "only the caller (the helper is new)"
e2e_fn_is module-loop "loop:loop_attr_do_show_offset " "the loop function"
e2e_fn_is exported-file-path "vmlinux:file_path " "the exported function"
e2e_fn_is static-key "vmlinux:proc_sched_show_task " "the function of the #included file"
e2e_fn_is switch-table "vmlinux:proc_pid_personality " "the function"
e2e_fn_is included-two "vmlinux:proc_sched_show_task vmlinux:show_schedstat " \
	"the two changed functions of build_utility.o, no other"
e2e_fn_is rodata-static "vmlinux:do_task_stat vmlinux:proc_pid_status " "the users of the table"
e2e_fn_is ops-statfs "vmlinux:shmem_statfs " "the ops method"
e2e_fn_is ambiguous-local "vmlinux:s_show " "s_show only (not bpf_ksym_iter_register)"
e2e_fn_is signature "vmlinux:__ia32_sys_setpriority vmlinux:__x64_sys_setpriority vmlinux:set_one_prio " \
	"the function and its callers"
e2e_fn_is new-percpu "vmlinux:version_proc_show " "the function"
e2e_fn_is new-mutex "vmlinux:loadavg_proc_show " "the function"
e2e_fn_is warn-once "vmlinux:proc_do_uts_string " "the function"
check "static-key: the build log says which object builds kernel/sched/debug.c" sh -c \
	"grep -q 'kernel/sched/debug.c is built as part of kernel/sched/build_utility.o' \
	\"\$(sqlite3 '$db' \"SELECT log_path FROM builds WHERE module_name = 'elp_unseen_static_key'\")\""
if [ -f "$t/elp_unseen_static_key.ko" ]; then
	check "static-key: the jump label's key is the kernel's sched_schedstats" sh -c \
		"readelf -rW '$t/elp_unseen_static_key.ko' | grep -A3 'klp.rela.vmlinux.__jump_table' | grep -q 'klp.sym.vmlinux.sched_schedstats,0'"
fi
if [ -f "$t/elp_unseen_switch_table.ko" ]; then
	check "switch-table: the new lookup table is the livepatch's" sh -c \
		"readelf -sW '$t/elp_unseen_switch_table.ko' | grep -q ' OBJECT  LOCAL .* CSWTCH\.[0-9]*\$'"
fi

# --- refusals ------------------------------------------------------------------------------
refused() { # PATCH TEXT...
	_p=$1; shift
	if elp build --kernel ref --no-cumulative --patch "$patches/unseen-$_p.patch" \
		-o "$t/refused.ko" > "$t/$_p.out" 2> "$t/$_p.err"; then
		not_ok "$_p is refused"; return
	fi
	ok "$_p is refused"
	for _w in "$@"; do
		check "$_p: says '$_w'" grep -qF "$_w" "$t/$_p.err"
	done
	check "$_p: no artefact" [ ! -e "$t/refused.ko" ]
}
refused bad-ctl-table \
	"kernel/utsname_sysctl.c: uts_kern_table: initial value of existing data changed"
refused bad-global-const \
	"kernel/sched/core.c: sched_prio_to_weight: initial value of existing data changed"
refused always-inline "lib/strncpy_from_user.c: strncpy_from_user: has no ftrace entry"

# --- one guest -----------------------------------------------------------------------------
cat > "$t/init.sh" <<'GUEST'
# run NAME CMD: the result of CMD before, with and after the livepatch elp_unseen_NAME
run() {
	_n=$1; shift
	e2e_lp_run "elp_unseen_$_n" "$@"
}

hn() { hostname elpbox; hostname elp/x 2>/dev/null; echo "$? $(hostname)"; }
run hostname_einval hn
cpu() { grep -c '^elp-cpu' /proc/cpuinfo; }
run static_helper cpu

modprobe loop
dd if=/dev/zero of=/tmp/elp-img bs=1k count=64 2>/dev/null
losetup /dev/loop0 /tmp/elp-img
lo() { cat /sys/block/loop0/loop/offset; }
run module_loop lo
bf() { cat /sys/block/loop0/loop/backing_file; }
run exported_file_path bf
losetup -d /dev/loop0

ss() {
	echo 0 > /proc/sys/kernel/sched_schedstats
	_a=$(grep -c '^elp-schedstats on' /proc/self/sched)
	echo 1 > /proc/sys/kernel/sched_schedstats
	_b=$(grep -c '^elp-schedstats on' /proc/self/sched)
	echo 0 > /proc/sys/kernel/sched_schedstats
	echo "$_a $_b"
}
run static_key ss
pers() { echo "$(cat /proc/self/personality) $(linux32 cat /proc/self/personality)"; }
run switch_table pers
fmt() { echo "$(grep -c '^elp-format 1' /proc/schedstat) $(grep -c '^elp-format 1' /proc/self/sched)"; }
run included_two fmt
# pid 1 waits for this script: sleeping
st() { echo "$(grep '^State:' /proc/1/status | cut -f2) $(cut -d' ' -f3 /proc/1/stat)"; }
run rodata_static st
mkdir -p /mnt/elp
mount -t tmpfs none /mnt/elp
nl() { stat -f -c %l /mnt/elp; }
run ops_statfs nl
ks() { echo "$(grep -c ' elp-linux_banner$' /proc/kallsyms) $(grep -c ' linux_banner$' /proc/kallsyms) $(grep -c . /proc/vmallocinfo | sed 's/^[1-9][0-9]*$/y/')"; }
run ambiguous_local ks
rn() { sh -c 'renice -n 3 -p $$ > /dev/null 2>&1; echo "$? $(cut -d" " -f19 /proc/$$/stat)"'; }
run signature rn
vr() { echo "$(cut -d' ' -f1-2 /proc/version) $(cut -d' ' -f1-2 /proc/version)"; }
run new_percpu vr
la() { echo "n$(grep -o '^elp-loadavg [0-9]*' /proc/loadavg) n$(grep -o '^elp-loadavg [0-9]*' /proc/loadavg)"; }
run new_mutex la

m=elp_unseen_warn_once
if [ -f /root/$m.ko ]; then
	wcnt() { echo "$(dmesg | grep -c 'WARNING: CPU: [0-9]* PID: [0-9]* at kernel/utsname_sysctl.c:61 proc_do_uts_string') $(dmesg | grep -c 'elp-uts: domainname: .!. in "elp!')"; }
	echo 'elp!0' > /proc/sys/kernel/domainname
	e2e_result warn_before "$(wcnt)"
	e2e_lp_on $m
	echo 'elp!1' > /proc/sys/kernel/domainname
	echo 'elp!2' > /proc/sys/kernel/domainname
	e2e_result warn_on "$(wcnt) $(cat /proc/sys/kernel/domainname)"
	e2e_result warn_traced "$(e2e_lp_traced $m)"
	e2e_lp_off $m
	echo 'elp!3' > /proc/sys/kernel/domainname
	e2e_result warn_off "$(wcnt) $(cat /proc/sys/kernel/domainname)"
	echo '(none)' > /proc/sys/kernel/domainname
fi
GUEST
E2E_GUEST_MODULES=loop
e2e_boot_modules 300
log=$t/boot.log

# expect NAME BEFORE ON: the patched behaviour, and the old one before and after
expect() { e2e_check_lp_run "$1" "$log" "elp_unseen_$1" "$2" "$3"; }
expect hostname_einval "0 elp/x" "1 elpbox"
expect static_helper "0" "1"
expect module_loop "0" "0 elp-bytes"
expect exported_file_path "/tmp/elp-img" "/tmp/Elp-img"
expect static_key "0 0" "0 1"
expect switch_table "00000000 00000008" "00000000 elp-linux 00000008 elp-linux32"
expect included_two "0 0" "1 1"
expect rodata_static "S (sleeping) S" "S (asleep) S"
expect ops_statfs "255" "242"
expect ambiguous_local "0 1 y" "1 0 y"
expect signature "0 3" "0 4"
expect new_percpu "Linux version Linux version" "elp-reads 1 elp-reads 2"
expect new_mutex "n n" "nelp-loadavg 1 nelp-loadavg 2"
if e2e_built elp_unseen_warn_once; then
	e2e_check_lp_loaded warn-once "$log" elp_unseen_warn_once
	e2e_check_result "warn-once: nothing before" "$log" warn_before "0 0"
	e2e_check_result "warn-once: one warning at the patched line, the message twice" \
		"$log" warn_on "1 2 elp!2"
	e2e_check_traced "warn-once: ftrace redirects the patched function" "$log" warn_traced on
	e2e_check_result "warn-once: disabled, neither again" "$log" warn_off "1 2 elp!3"
	check "warn-once: the warning's is the only call trace" \
		[ "$(tr -d '\r' < "$log" | grep -c 'Call Trace')" = 1 ]
fi
check "no oops, BUG, other WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log" \
	'WARNING: CPU: [0-9]+ PID: [0-9]+ at kernel/utsname_sysctl.c:61 proc_do_uts_string|Call Trace'
e2e_show_log "$log" '^E2E-|livepatch|elp'
t_done
