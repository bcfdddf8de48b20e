#!/bin/sh
# e2e: what `elivepatch build` makes beyond plain function changes, checked in one boot of
# the reference kernel:
#   callbacks            two files of vmlinux each declare a pre_patch callback
#                        (data/include/elivepatch.h), one a post_unpatch: a wrapper calls both
#                        in order; they run when the patch is enabled and disabled
#   header-loadavg-frac  a macro of include/linux/sched/loadavg.h: refused without
#                        --extra-files (naming the two files using it), built with them; both
#                        /proc/loadavg and /proc/pressure/cpu change
#   cumulative           build A (cmdline-string), an 'apply' of A in the catalogue, then
#                        build B (filesystems-static): B holds both changes, replace = true;
#                        in the guest loading B replaces A, disabling B undoes both
# Env: ELIVEPATCH, ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache),
# ELIVEPATCH_DATADIR (default: this tree's data/).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

e2e_add_kernel ref || bail "kernel add"

# build NAME ARGS...: elp --json build of module NAME into $t/NAME.json and $t/NAME.ko
build() {
	_n=$1; shift
	if elp --json build --kernel ref --name "$_n" -o "$t/$_n.ko" "$@" > "$t/$_n.json" 2> "$t/$_n.err"; then
		ok "build $_n"
	else
		not_ok "build $_n"
		sed 's/^/# /' "$t/$_n.err"
		return 1
	fi
}
funcs() { grep -o '"function":"[a-z_]*"' "$t/$1.json" | cut -d'"' -f4 | sort | tr '\n' ' '; }

# --- callbacks ---------------------------------------------------------------------------
if build callbacks --patch "$patches/callbacks.patch"; then
	check "callbacks: both functions" [ "$(funcs callbacks)" = "uptime_proc_show version_proc_show " ]
	main=$(dirname "$(grep -o '"log":"[^"]*"' "$t/callbacks.json" | cut -d'"' -f4)")/module/main.c
	check "callbacks: klp_object.callbacks set" grep -q '\.callbacks = {' "$main"
	check "callbacks: a pre_patch wrapper for two files" grep -q 'static int elp_cb_0_pre_patch' "$main"
fi

# --- a header change used by files the patch does not touch -----------------------------------
elp build --kernel ref --patch "$patches/header-loadavg-frac.patch" > /dev/null 2> "$t/hdr-refused.err"
check "header: refused without --extra-files (exit 2)" [ $? = 2 ]
check "header: names fs/proc/loadavg.c" grep -q 'fs/proc/loadavg.c' "$t/hdr-refused.err"
check "header: names kernel/sched/build_utility.c (includes psi.c)" \
	grep -q 'kernel/sched/build_utility.c' "$t/hdr-refused.err"
check "header: suggests --extra-files" grep -q -- '--extra-files' "$t/hdr-refused.err"
if build header --patch "$patches/header-loadavg-frac.patch" \
	--extra-files fs/proc/loadavg.c --extra-files kernel/sched/build_utility.c; then
	check "header: loadavg_proc_show and psi_show patched" \
		sh -c "funcs() { grep -o '\"function\":\"[a-z_]*\"' \"$t/header.json\" | cut -d'\"' -f4; }; funcs | grep -qx loadavg_proc_show && funcs | grep -qx psi_show"
fi

# --- cumulative --------------------------------------------------------------------------
build cumul_a --no-cumulative --patch "$patches/cmdline-string.patch"
a_id=$(q "SELECT max(id) FROM builds WHERE status = 'succeeded' AND module_name = 'cumul_a'")
check "cumulative: A is not cumulative" [ "$(q "SELECT cumulative FROM builds WHERE id = $a_id")" = 0 ]
# what `elivepatch apply` records (src/cmd-apply.c)
q "INSERT INTO events (time, kind, kernel_release, build_id, module, host, detail) VALUES (strftime('%s', 'now'), 'apply', '$E2E_RELEASE', $a_id, 'cumul_a', '$(hostname)', 'e2e')"
if build cumul_b --patch "$patches/filesystems-static.patch"; then
	check "cumulative: B is cumulative by default" grep -q '"cumulative":true' "$t/cumul_b.json"
	check "cumulative: B holds A's and its own function" \
		[ "$(funcs cumul_b)" = "cmdline_proc_show filesystems_proc_show " ]
	b_id=$(q "SELECT max(id) FROM builds WHERE status = 'succeeded'")
	check "cumulative: builds.cumulative = 1" [ "$(q "SELECT cumulative FROM builds WHERE id = $b_id")" = 1 ]
	check "cumulative: build_patches A's then B's" \
		[ "$(q "SELECT group_concat(p.name, ' ') FROM (SELECT * FROM build_patches WHERE build_id = $b_id ORDER BY position) bp JOIN patches p ON p.id = bp.patch_id")" = \
			"cmdline-string filesystems-static" ]
	check "cumulative: modinfo names both patches" \
		[ "$(modinfo -F elivepatch_patch "$t/cumul_b.ko" | sort | tr '\n' ' ')" = "cmdline-string filesystems-static " ]
fi
elp --json build --kernel ref --no-cumulative --patch "$patches/filesystems-static.patch" > "$t/nocum.json" 2> "$t/nocum.err"
check "--no-cumulative: only the new patch" [ "$(funcs nocum)" = "filesystems_proc_show " ]
elp --json build --kernel ref --cumulative --patch "$patches/cmdline-string.patch" --patch \
	"$patches/filesystems-static.patch" > "$t/dedup.json" 2> "$t/dedup.err"
check "cumulative: a patch already applied is taken once" \
	[ "$(funcs dedup)" = "cmdline_proc_show filesystems_proc_show " ]

# --- one boot --------------------------------------------------------------------------------
cat > "$t/init.sh" <<'EOF'
lp_on() { insmod "/root/$1.ko"; e2e_result "${1}_insmod" $?; e2e_lp_wait "$1" 30; e2e_result "${1}_wait_on" $?; }
lp_off() { echo 0 > "/sys/kernel/livepatch/$1/enabled"; e2e_lp_wait "$1" 30; e2e_result "${1}_wait_off" $?; }
cbs() { dmesg | grep -o 'elivepatch-cb [a-z]* [a-z_]*' | tr ' ' '_' | tr '\n' ' '; }
fracs() { # digits after the point in /proc/loadavg and /proc/pressure/cpu
	echo $(awk '{ split($1, a, "."); print length(a[2]) }' /proc/loadavg) \
		$(awk 'NR == 1 { split($2, a, "[=.]"); print length(a[3]) }' /proc/pressure/cpu)
}
if [ -f /root/callbacks.ko ]; then
	e2e_result cb_before "$(cbs)"
	lp_on callbacks
	e2e_result cb_patched "$(cbs)"
	e2e_result cb_version "$(grep -c elivepatch-cb /proc/version) $(grep -c elivepatch-cb /proc/uptime)"
	lp_off callbacks
	e2e_result cb_unpatched "$(cbs)"
	e2e_result cb_version_after "$(grep -c elivepatch-cb /proc/version) $(grep -c elivepatch-cb /proc/uptime)"
	rmmod callbacks
	e2e_result callbacks_rmmod $?
fi
if [ -f /root/header.ko ]; then
	e2e_result hdr_before "$(fracs)"
	lp_on header
	e2e_result hdr_patched "$(fracs)"
	lp_off header
	e2e_result hdr_unpatched "$(fracs)"
	rmmod header
	e2e_result header_rmmod $?
fi
if [ -f /root/cumul_a.ko ] && [ -f /root/cumul_b.ko ]; then
	fs() { awk '$2 == "proc" { print $2 "/" $3 }' /proc/filesystems; }
	lp_on cumul_a
	e2e_result cum_a "$(cat /proc/cmdline) $(fs)"
	lp_on cumul_b
	# the replaced patch leaves sysfs once the transition is over
	i=0; while [ -d /sys/kernel/livepatch/cumul_a ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
	e2e_result cum_b "$(cat /proc/cmdline) $(fs) $(ls /sys/kernel/livepatch | tr '\n' ' ')"
	lp_off cumul_b
	e2e_result cum_off "$(cat /proc/cmdline) $(fs) $(ls /sys/kernel/livepatch | wc -l)"
	rmmod cumul_b
	e2e_result cumul_b_rmmod $?
	rmmod cumul_a
	e2e_result cumul_a_rmmod $?
fi
EOF
files=
for m in callbacks header cumul_a cumul_b; do
	[ -f "$t/$m.ko" ] && files="$files $t/$m.ko"
done
check "initramfs" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $files
t0=$(date +%s)
check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" 180
printf '# boot: %s s\n' "$(($(date +%s) - t0))"
log=$t/boot.log
cmdline="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"

e2e_check_result "callbacks loads" "$log" callbacks_insmod 0
e2e_check_result "callbacks: none ran before" "$log" cb_before ""
e2e_check_result "callbacks: both pre_patch ran, in file order" "$log" cb_patched \
	"elivepatch-cb_version_pre_patch elivepatch-cb_uptime_pre_patch "
e2e_check_result "callbacks: both functions patched" "$log" cb_version "1 1"
e2e_check_result "callbacks: post_unpatch ran on disable" "$log" cb_unpatched \
	"elivepatch-cb_version_pre_patch elivepatch-cb_uptime_pre_patch elivepatch-cb_version_post_unpatch "
e2e_check_result "callbacks: disabled, old behaviour back" "$log" cb_version_after "0 0"
e2e_check_result "header loads" "$log" header_insmod 0
e2e_check_result "header: before, two decimals in loadavg and pressure" "$log" hdr_before "2 2"
e2e_check_result "header: both users patched (three decimals)" "$log" hdr_patched "3 3"
e2e_check_result "header: disabled, two again" "$log" hdr_unpatched "2 2"
e2e_check_result "cumulative: A loads" "$log" cumul_a_insmod 0
e2e_check_result "cumulative: A patches cmdline" "$log" cum_a "elivepatch-test-cmdline proc/"
e2e_check_result "cumulative: B loads" "$log" cumul_b_insmod 0
e2e_check_result "cumulative: B replaces A (A gone from sysfs), both changes live" "$log" cum_b \
	"elivepatch-test-cmdline proc/elivepatch-test cumul_b "
e2e_check_result "cumulative: B disabled, both changes gone" "$log" cum_off "$cmdline proc/ 0"
e2e_check_result "cumulative: B unloads" "$log" cumul_b_rmmod 0
e2e_check_result "cumulative: A unloads" "$log" cumul_a_rmmod 0
# every transition finished (lp_off of cumul_a is never called: B replaced it)
for w in callbacks_wait_on callbacks_wait_off header_wait_on header_wait_off \
	cumul_a_wait_on cumul_b_wait_on cumul_b_wait_off; do
	e2e_check_result "transition finished: $w" "$log" "$w" 0
done
e2e_check_result "callbacks unloads" "$log" callbacks_rmmod 0
e2e_check_result "header unloads" "$log" header_rmmod 0
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"
if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-|livepatch' | sed 's/^/# /'
fi
t_done
