#!/bin/sh
# e2e: livepatches that load and must not misbehave afterwards, built with `elivepatch build`
# and run in one guest of the reference kernel booted with oops=panic
# (tests/e2e/patches/safety-*.patch):
#   ops-identity   proc_ns_file compares f_op with the file's own static ns_file_operations:
#                  the patched copy must compare with the kernel's table, or setns (nsenter)
#                  refuses every namespace file
#   end-pointer    neigh_seq_start walks neigh_tables up to an end pointer one past the last
#                  variable of .data..read_mostly: both ends must be the kernel's array
#   func-pointer   stat_open (changed) hands show_stat (changed) to single_open_size, which
#                  keeps the pointer in the open file: it must be the kernel's show_stat (ftrace
#                  redirects it while patched), or reading the file after the livepatch is
#                  disabled and unloaded jumps into freed module memory
#   namespace      version_proc_show calls dma_buf_get, an export of vmlinux in symbol namespace
#                  DMA_BUF: the module imports it, or modpost and the module loader refuse it
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref

all="ops-identity end-pointer func-pointer namespace"
mods=
for p in $all; do
	m=elp_safety_$(echo "$p" | tr '-' '_')
	t0=$(date +%s)
	if elp --json build --kernel ref --patch "$patches/safety-$p.patch" -o "$t/$m.ko" \
		> "$t/$p.json" 2> "$t/$p.err"; then
		ok "build $p ($(($(date +%s) - t0)) s)"
		mods="$mods $m"
	else
		not_ok "build $p"
		sed 's/^/# /' "$t/$p.err"
	fi
done

if [ -f "$t/elp_safety_ops_identity.ko" ]; then
	check "ops-identity: ns_file_operations is the kernel's" \
		sh -c "readelf -sW '$t/elp_safety_ops_identity.ko' | grep -q ' \.klp\.sym\.vmlinux\.ns_file_operations,0\$'"
fi
if [ -f "$t/elp_safety_end_pointer.ko" ]; then
	check "end-pointer: neigh_tables + 24 is a klp relocation to the kernel's array" \
		sh -c "readelf -rW '$t/elp_safety_end_pointer.ko' | grep -q '\.klp\.sym\.vmlinux\.neigh_tables,0 + 18\$'"
	check "end-pointer: no copy of the kernel's .data..read_mostly" \
		sh -c "! readelf -SW '$t/elp_safety_end_pointer.ko' | grep -q '\.data\.\.read_mostly'"
fi
if [ -f "$t/elp_safety_namespace.ko" ]; then
	check "namespace: the module imports DMA_BUF" \
		sh -c "modinfo -F import_ns '$t/elp_safety_namespace.ko' | grep -qx DMA_BUF"
fi
if [ -f "$t/elp_safety_func_pointer.ko" ]; then
	check "func-pointer: stat_open passes the kernel's show_stat" \
		sh -c "readelf -sW '$t/elp_safety_func_pointer.ko' | grep -q ' \.klp\.sym\.vmlinux\.show_stat,0\$'"
fi

# --- one guest (oops=panic: an oops ends the boot) ------------------------------------------
cat > "$t/init.sh" <<'GUEST'
# setns on a namespace file, and whether the patched proc_ns_file recognised one
ns() {
	nsenter -t 1 -u true > /dev/null 2>&1
	echo "$? $(dmesg | grep -c 'elp-safety-ns ns' | awk '{ print ($1 > 0) }')"
}
e2e_lp_run elp_safety_ops_identity ns

# /proc/net/arp starts its walk with neigh_seq_start
neigh() {
	cat /proc/net/arp > /dev/null
	dmesg | grep -o 'elp-safety-neigh [0-9]*' | tail -n 1
}
e2e_lp_run elp_safety_end_pointer neigh

dmabuf() { grep -o 'elp-safety-dmabuf .*' /proc/version; }
e2e_lp_run elp_safety_namespace dmabuf

m=elp_safety_func_pointer
if [ -f /root/$m.ko ]; then
	e2e_lp_on $m
	# opened while patched: the seq_file keeps the show function stat_open gave it
	exec 3< /proc/stat
	e2e_result fnptr_on "$(grep -c elp-safety-stat /proc/stat)"
	exec 4< /proc/stat
	e2e_result fnptr_on_fd "$(grep -c elp-safety-stat <&4)"
	exec 4<&-
	e2e_lp_off $m
	e2e_result fnptr_unloaded_fd "$(grep -c elp-safety-stat <&3)"
	exec 3<&-
	e2e_result fnptr_off "$(grep -c elp-safety-stat /proc/stat)"
fi
GUEST
files=
for m in $mods; do files="$files $t/$m.ko"; done
# shellcheck disable=SC2086 # list of files
check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $files
t0=$(date +%s)
E2E_APPEND="${E2E_APPEND:+$E2E_APPEND }oops=panic"
check "the reference kernel boots with oops=panic and runs the checks" \
	e2e_boot "$t/initrd.gz" "$t/boot.log" 240
printf '# boot with %s modules: %s s\n' "$(echo $mods | wc -w)" "$(($(date +%s) - t0))"
log=$t/boot.log

# expect NAME BEFORE ON OFF: results before, with and after the livepatch
expect() {
	case $mods in *"elp_safety_$1"*) ;; *) return 0 ;; esac
	_m=elp_safety_$1
	e2e_check_result "$1 loads" "$log" "${_m}_insmod" 0
	e2e_check_result "$1 is enabled" "$log" "${_m}_enabled" 1
	e2e_check_result "$1 unloads" "$log" "${_m}_rmmod" 0
	e2e_check_result "$1: before" "$log" "${_m}_before" "$2"
	e2e_check_result "$1: patched" "$log" "${_m}_on" "$3"
	e2e_check_result "$1: disabled" "$log" "${_m}_off" "$4"
}
# setns succeeds throughout; the patched proc_ns_file recognised the namespace file
expect ops_identity "0 0" "0 1" "0 1"
# the kernel's two neighbour tables (ARP and IPv6 ND), counted while patched
expect end_pointer "" "elp-safety-neigh 2" "elp-safety-neigh 2"
# dma_buf_get(-1): -EBADF
expect namespace "" "elp-safety-dmabuf -9" ""
case $mods in *elp_safety_func_pointer*)
	m=elp_safety_func_pointer
	e2e_check_result "func-pointer loads" "$log" "${m}_insmod" 0
	e2e_check_result "func-pointer is enabled" "$log" "${m}_enabled" 1
	e2e_check_result "func-pointer: patched" "$log" fnptr_on 1
	e2e_check_result "func-pointer: a file opened while patched shows the patch" \
		"$log" fnptr_on_fd 1
	e2e_check_result "func-pointer unloads" "$log" "${m}_rmmod" 0
	e2e_check_result "func-pointer: that file, read after the unload, shows the kernel's" \
		"$log" fnptr_unloaded_fd 0
	e2e_check_result "func-pointer: disabled" "$log" fnptr_off 0 ;;
esac
check "no oops, BUG or WARNING in the guest" e2e_guest_dmesg_ok "$log"
if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-|livepatch|elp|Oops|BUG|RIP' | sed 's/^/# /'
fi
t_done
