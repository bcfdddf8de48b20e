#!/bin/sh
# e2e self-test of tests/e2e/lib.sh: build the kernel's own livepatch sample against the
# reference kernel's headers, boot the reference kernel in qemu with it, check that it
# patches /proc/cmdline and unpatches it again, that a real module of the kernel loads with
# its dependencies, that timeouts and oopses are detected, and that the kallsyms dump is sane.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_kernel || bail "reference kernel available (tests/e2e/fetch-kernel.sh)"
ok "reference kernel $E2E_RELEASE in $E2E_DIR"
e2e_tmpdir || bail "temp dir"
t=$E2E_TMP

# --- the livepatch sample, built out of tree against the headers --------------------------
src=$(e2e_source_file samples/livepatch/livepatch-sample.c) || bail "livepatch-sample.c extracted from the source tarball"
if ! mkdir "$t/mod" || ! cp "$src" "$here/fixtures/livepatch-stall.c" "$t/mod/" ||
	! echo 'obj-m += livepatch-sample.o livepatch-stall.o' > "$t/mod/Kbuild"; then
	bail "module dir"
fi
if make -C "$E2E_HEADERS" M="$t/mod" modules > "$t/build.log" 2>&1 && [ -f "$t/mod/livepatch-sample.ko" ]; then
	ok "livepatch-sample.ko builds against E2E_HEADERS"
else
	not_ok "livepatch-sample.ko builds against E2E_HEADERS"
	tail -n 20 "$t/build.log" | sed 's/^/# /'
	t_done
fi
vermagic=$(modinfo -F vermagic "$t/mod/livepatch-sample.ko")
case $vermagic in
"$E2E_RELEASE "*) ok "vermagic is $E2E_RELEASE" ;;
*) not_ok "vermagic is $E2E_RELEASE (got: $vermagic)" ;;
esac

# --- one boot: livepatch enable/disable, a real module with dependencies --------------------
cat > "$t/init.sh" <<'EOF'
lp=/sys/kernel/livepatch/livepatch_sample
e2e_result cmdline_before "$(cat /proc/cmdline)"
insmod /root/livepatch-sample.ko
e2e_result insmod $?
e2e_result enabled "$(cat $lp/enabled 2>&1)"
e2e_lp_wait livepatch_sample 30
e2e_result wait_enable $?
e2e_result cmdline_patched "$(cat /proc/cmdline)"
echo 0 > $lp/enabled
e2e_result disable $?
e2e_lp_wait livepatch_sample 30
e2e_result wait_disable $?
e2e_result cmdline_after "$(cat /proc/cmdline)"
# a transition that never finishes: e2e_lp_on says so, and the log shows E2E-TIMEOUT
e2e_lp_on livepatch_stall 3
e2e_result stall_on $?
e2e_lp_off livepatch_stall
modprobe vsock_loopback
e2e_result modprobe $?
e2e_result lsmod "$(lsmod | awk 'NR > 1 && /^(vsock|vsock_loopback|vmw_vsock_virtio_transport_common) / { print $1 }' | sort | tr '\n' ' ')"
EOF
cp "$t/mod/livepatch-stall.ko" "$t/livepatch_stall.ko" # e2e_lp_on loads /root/MODULE.ko
E2E_GUEST_MODULES=vsock_loopback
check "initramfs with the sample and E2E_GUEST_MODULES=vsock_loopback" \
	e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/mod/livepatch-sample.ko" "$t/livepatch_stall.ko"
unset E2E_GUEST_MODULES
t0=$(date +%s)
check "the reference kernel boots, runs the test and powers off" e2e_boot "$t/initrd.gz" "$t/boot.log" 90
printf '# boot + insmod + checks + poweroff: %s s\n' "$(($(date +%s) - t0))"
log=$t/boot.log
orig="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"
e2e_check_result "guest /proc/cmdline is the boot command line" "$log" cmdline_before "$orig"
e2e_check_result "insmod livepatch-sample.ko" "$log" insmod 0
e2e_check_result "livepatch_sample is enabled" "$log" enabled 1
e2e_check_result "transition finishes after enable" "$log" wait_enable 0
e2e_check_result "/proc/cmdline is live patched" "$log" cmdline_patched "this has been live patched"
e2e_check_result "disable through sysfs" "$log" disable 0
e2e_check_result "transition finishes after disable" "$log" wait_disable 0
e2e_check_result "/proc/cmdline is back to the original" "$log" cmdline_after "$orig"
e2e_check_result "e2e_lp_on reports a transition that never finishes" "$log" livepatch_stall_enabled timeout
e2e_check_result "... and fails" "$log" stall_on 1
e2e_check_result "e2e_lp_off unloads it after the reversal" "$log" livepatch_stall_rmmod 0
if e2e_guest_dmesg_ok "$log" 2>/dev/null; then
	not_ok "the host's guest check fails on the stalled transition"
else
	ok "the host's guest check fails on the stalled transition"
fi
e2e_check_result "modprobe vsock_loopback in the guest" "$log" modprobe 0
e2e_check_result "vsock_loopback loaded with its dependencies" "$log" lsmod \
	"vmw_vsock_virtio_transport_common vsock vsock_loopback "
check "no oops, BUG or WARNING in the guest (but the stall it caused)" \
	e2e_guest_dmesg_ok "$log" 'E2E-TIMEOUT e2e_lp_wait livepatch_stall'

if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-' | sed 's/^/# /'
fi

# --- the checkers detect failures -------------------------------------------------------------
printf '%s\n' 'H4sIAAAAAAAAA0tOOoopsABC+/=' '[    1.5] BUG: kernel NULL pointer dereference' > "$t/bad.log"
printf '%s\n' 'H4sIAAAAAAAAA0tOOoopsABC+/=' 'E2E-END 0' > "$t/good.log"
check "e2e_guest_dmesg_ok ignores base64 lines" e2e_guest_dmesg_ok "$t/good.log"
if e2e_guest_dmesg_ok "$t/bad.log" 2>/dev/null; then
	not_ok "e2e_guest_dmesg_ok reports BUG:"
else
	ok "e2e_guest_dmesg_ok reports BUG:"
fi
# every kind of trouble the shared check knows, one log each
while IFS='|' read -r what line; do
	printf '%s\n' 'E2E-BEGIN' "$line" 'E2E-END 0' > "$t/one.log"
	if e2e_guest_dmesg_ok "$t/one.log" 2>/dev/null; then
		not_ok "e2e_guest_dmesg_ok reports $what"
	else
		ok "e2e_guest_dmesg_ok reports $what"
	fi
done <<'LOGS'
a call trace|[    2.1] Call Trace:
a warning|[    2.1] WARNING: CPU: 0 PID: 1 at kernel/livepatch/core.c:1 klp_x+0x1/0x2
an RCU stall|[   30.0] rcu: INFO: rcu_sched self-detected stall on CPU
a hung task|[  150.0] INFO: task kworker/0:1:12 blocked for more than 120 seconds.
a failed livepatch|[    3.0] livepatch: failed to enable patch 'elp_x'
a stalled transition|E2E-TIMEOUT e2e_lp_wait elp_x
LOGS
printf '%s\n' '[ 1.0] WARNING: expected by the test' '[ 1.0] Call Trace:' > "$t/allow.log"
check "e2e_guest_dmesg_ok ALLOW_ERE lets expected lines pass" \
	e2e_guest_dmesg_ok "$t/allow.log" 'WARNING: expected by the test|Call Trace'
if e2e_guest_dmesg_ok "$t/allow.log" 'WARNING: expected' 2>/dev/null; then
	not_ok "... but not the lines it does not name"
else
	ok "... but not the lines it does not name"
fi
echo 'sleep 600' > "$t/hang.sh"
if e2e_initramfs "$t/hang.gz" "$t/hang.sh"; then
	e2e_boot "$t/hang.gz" "$t/hang.log" 5 2>/dev/null
	rc=$?
	check "e2e_boot returns 124 when the guest hangs (got $rc)" [ "$rc" = 124 ]
else
	not_ok "initramfs for the hang test"
fi

# --- kallsyms of the reference kernel ---------------------------------------------------------
t0=$(date +%s)
ks=$(e2e_kallsyms)
check "e2e_kallsyms gives a file" [ -s "$ks" ]
printf '# kallsyms: %s, %s s\n' "$ks" "$(($(date +%s) - t0))"
if [ -s "$ks" ]; then
	n=$(wc -l < "$ks")
	check "kallsyms has ~90k symbols (got $n)" [ "$n" -gt 80000 ]
	# shellcheck disable=SC2016 # awk program
	check "kallsyms lines are ADDR TYPE NAME, non-zero addresses but per-cpu (A)" \
		awk '$1 !~ /^[0-9a-f]+$/ || length($1) != 16 || ($1 ~ /^0+$/ && $2 != "A") ||
			$2 !~ /^[A-Za-z]$/ || NF != 3 { exit 1 }' "$ks"
	check "kallsyms has cmdline_proc_show" grep -q ' [tT] cmdline_proc_show$' "$ks"
	check "kallsyms has gcc clones (__set_oom_adj.isra.0)" grep -q ' t __set_oom_adj\.isra\.0$' "$ks"
	check "kallsyms addresses are link-time (nokaslr): _text at ffffffff81000000" \
		grep -q '^ffffffff81000000 T _text$' "$ks"
fi
t_done
