#!/bin/sh
# e2e: more kinds of real fixes, built with `elivepatch build` and run in one guest of the
# reference kernel (tests/e2e/patches/more-*.patch; mails and plain `diff -u` output):
#   smaps-part          a .part.N clone: smap_gather_stats.part.0 (/proc/self/smaps)
#   umask-syscall       a SYSCALL_DEFINE body gcc inlines into __x64_sys_umask and
#                       __ia32_sys_umask (plain diff -u)
#   getpriority-switch  a SYSCALL_DEFINE body gcc keeps out of line: the notrace (static
#                       inline) __do_sys_getpriority is reached through its patched callers
#   percpu-current      current and per-cpu data in show_softirqs
#   module-can          can.ko: a module function that reads a module static variable and
#                       compares with a module static function
#   tty-two-funcs       two functions of one file, one calls the other with a new argument;
#                       a switch (plain diff -u)
#   sysctl-once         a new pr_info_once next to an existing once flag in an .isra clone
#                       with a .cold part (once flags are the livepatch's own, like kpatch's:
#                       the old message may print once more)
#   readmostly-data     a new __read_mostly variable next to devkmsg_log: the existing
#                       variables of .data..read_mostly stay the kernel's
#   stat-inline         an out-of-line static function becomes __always_inline, an inlined
#                       one becomes noinline (plain diff -u)
#   comm-bounds         a security-fix-shaped bounds check returning -EINVAL
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref

all="smaps-part umask-syscall getpriority-switch percpu-current module-can tty-two-funcs
	sysctl-once stat-inline comm-bounds readmostly-data"
e2e_build_patches more "$all"
e2e_fn_is smaps-part "vmlinux:smap_gather_stats.part.0 " "the running kernel's .part clone"
e2e_fn_is umask-syscall "vmlinux:__ia32_sys_umask vmlinux:__x64_sys_umask " "both syscall wrappers"
e2e_fn_is getpriority-switch "vmlinux:__ia32_sys_getpriority vmlinux:__x64_sys_getpriority " \
	"the traceable callers of __do_sys_getpriority"
e2e_fn_is tty-two-funcs "vmlinux:show_tty_driver vmlinux:show_tty_range " "both functions"
e2e_fn_is sysctl-once "vmlinux:proc_first_pos_non_zero_ignore.isra.0 " "the .isra clone"
e2e_fn_is stat-inline "vmlinux:show_stat " "only the caller"
e2e_fn_is readmostly-data "vmlinux:devkmsg_write " "only the function that uses the new variable"
if [ -f "$t/elp_more_readmostly_data.ko" ]; then
	check "readmostly-data: devkmsg_log is the kernel's" \
		sh -c "readelf -sW '$t/elp_more_readmostly_data.ko' | grep -q ' .klp.sym.vmlinux.devkmsg_log,0\$'"
fi
check "module-can: the klp_object is can" grep -q '"object":"can"' "$t/module-can.json"
if [ -f "$t/elp_more_getpriority_switch.ko" ]; then
	check "getpriority-switch: the module has its own __do_sys_getpriority" \
		sh -c "readelf -sW '$t/elp_more_getpriority_switch.ko' | grep -q ' FUNC .* __do_sys_getpriority\$'"
fi

# --- one guest -----------------------------------------------------------------------------
cat > "$t/init.sh" <<'GUEST'
# run NAME CMD: the result of CMD before, with and after the livepatch elp_more_NAME
run() {
	_n=$1; shift
	e2e_lp_run "elp_more_$_n" "$@"
}

smaps() { grep -m1 '^Swap:' /proc/self/smaps | tr -s ' '; }
run smaps_part smaps
um() { sh -c 'umask 0123; umask'; }
run umask_syscall um
# busybox renice -n 1 reads the old nice value with getpriority
rn() { sh -c 'renice -n 1 -p $$ > /dev/null 2>&1; cut -d" " -f19 /proc/$$/stat'; }
run getpriority_switch rn
sirq() { cat /proc/softirqs | grep -c '^elp-softirqs cat cpu0 1$'; }
run percpu_current sirq
modprobe can
can() { cut -d' ' -f1-3 /proc/net/can/reset_stats; }
run module_can can
tty() { grep ' serial' /proc/tty/drivers | awk '{ print $NF }' | sort -u | tr '\n' ' '; }
run tty_two_funcs tty
iowait() { awk '/^cpu0 / { print ($6 >= 424200) }' /proc/stat; }
run stat_inline iowait
comm() { sh -c 'echo -n abcdefghijklmnopqrst > /proc/$$/comm; echo "$? $(cat /proc/$$/comm)"' 2>/dev/null; }
run comm_bounds comm

m=elp_more_sysctl_once
if [ -f /root/$m.ko ]; then
	# the kernel warns once about writes past position 0; the patch adds its own once
	# message in front of that warning
	echo 0 > /proc/sys/kernel/sysctl_writes_strict
	w() { { echo 5; echo 5; } > /proc/sys/kernel/printk_ratelimit; }
	w
	e2e_lp_on $m
	w
	w
	e2e_result sysctl_once "$(dmesg | grep -c 'when file position was not 0') $(dmesg | grep -c 'elp-once printk_ratelimit')"
	e2e_result sysctl_once_traced "$(e2e_lp_traced $m)"
	e2e_lp_off $m
	# the kernel's function again (the module is gone): no new message of either kind
	w
	e2e_result sysctl_once_off "$(dmesg | grep -c 'when file position was not 0') $(dmesg | grep -c 'elp-once')"
	e2e_result sysctl_once_traced_off "$(e2e_lp_traced $m)"
	echo 1 > /proc/sys/kernel/sysctl_writes_strict
fi

m=elp_more_readmostly_data
if [ -f /root/$m.ko ]; then
	echo on > /proc/sys/kernel/printk_devkmsg
	e2e_lp_on $m
	echo elp-a > /dev/kmsg
	echo elp-b > /dev/kmsg
	e2e_result readmostly "$(dmesg | grep -o 'elp-kmsg [0-9]* log=[0-9]*' | tr '\n' ' ')"
	e2e_lp_off $m
	echo elp-c > /dev/kmsg
	e2e_result readmostly_off "$(dmesg | grep -c 'elp-kmsg')"
fi
GUEST
E2E_GUEST_MODULES=can
e2e_boot_modules 240
log=$t/boot.log

# expect NAME BEFORE ON: the patched behaviour, and the old one before and after
expect() { e2e_check_lp_run "$1" "$log" "elp_more_$1" "$2" "$3"; }
expect smaps_part "Swap: 0 kB" "Swap: 28 kB"
expect umask_syscall "0123" "0321"
expect getpriority_switch "1" "8"
expect percpu_current "0" "1"
expect module_can "Scheduled statistic reset" "elp-can: scheduled statistic"
expect tty_two_funcs "serial " "serial:elp-tail "
expect stat_inline "0" "1"
expect comm_bounds "0 abcdefghijklmno" "1 sh"
if e2e_built elp_more_sysctl_once; then
	e2e_check_lp_loaded sysctl-once "$log" elp_more_sysctl_once
	e2e_check_result "sysctl-once: the new message printed once, the old one at most once more" \
		"$log" sysctl_once "2 1"
	e2e_check_traced "sysctl-once: ftrace redirects the patched function" "$log" sysctl_once_traced on
	e2e_check_result "sysctl-once: disabled, no new message" "$log" sysctl_once_off "2 1"
	e2e_check_traced "sysctl-once: disabled, nothing redirected" "$log" sysctl_once_traced_off off
fi
if e2e_built elp_more_readmostly_data; then
	e2e_check_lp_loaded readmostly-data "$log" elp_more_readmostly_data
	e2e_check_result "readmostly-data: the new variable counts, devkmsg_log is the kernel's (on)" \
		"$log" readmostly "elp-kmsg 1 log=1 elp-kmsg 2 log=1 "
	e2e_check_result "readmostly-data: disabled" "$log" readmostly_off 2
fi
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"
e2e_show_log "$log" '^E2E-|livepatch|elp'
t_done
