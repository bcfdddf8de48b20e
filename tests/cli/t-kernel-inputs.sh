#!/bin/sh
# elivepatch kernel: what a kernel record is made of.  Symbol tables are
# snapshots (sha256, in the catalogue's store), found where users have them;
# stubs, other kernels' tables, images and modules trees are refused; a
# source dir built in place gives release, config, build dir and symbols.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

REL=6.1.0-57-amd64
ELIVEPATCH_CACHE=$T/cache # a boot of an image keeps what it read there
export ELIVEPATCH_CACHE
sha() { sha256sum < "$1" | cut -d' ' -f1; }
col() { sqlite3 "$DB" "SELECT $2 FROM kernels WHERE name='$1'"; }
origin() { sqlite3 "$DB" "SELECT origin FROM kernel_inputs JOIN kernels ON id = kernel_id WHERE name='$1' AND input='$2'"; }
bad() { # DESCRIPTION EXPECTED-ERROR-REGEX ARGS...
	desc=$1 re=$2; shift 2
	before=$(dump)
	elp "$@" > "$T/out" 2>&1
	rc=$?
	check "$desc: non-zero exit" test "$rc" -ne 0
	check "$desc: error names the input and the reason" grep -q "$re" "$T/out"
	check "$desc: one line" test "$(grep -c '^error:' "$T/out")" = 1
	check "$desc: catalogue unchanged" test "$(dump)" = "$before"
}

printf 'ffffffff81000000 T _text\nffffffff81001000 t cmdline_proc_show\nffffffff81002000 T do_sys_open\n' > "$T/kallsyms"
printf 'ffffffff81000000 T _text\nffffffff81001000 t other_kernel_fn\n' > "$T/other.map"
printf 'ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n' > "$T/stub.map"
printf '0000000000000000 T _text\n0000000000000000 t cmdline_proc_show\n' > "$T/zero"

# --- --symbols: copied into the store, content-addressed
elp kernel add --release $REL --name given --source "$T/src" --config "$T/config" --symbols "$T/kallsyms" > "$T/out" 2>&1
check "--symbols: added" grep -q "added kernel 'given'" "$T/out"
check "...the sha256 of the table is recorded" test "$(col given symbols_sha256)" = "$(sha "$T/kallsyms")"
snap=$(col given symbols_path)
check "...the table is a snapshot in the catalogue's store" test "$snap" = "$T/symbols/$(sha "$T/kallsyms").gz"
check "...compressed, and the same text" test "$(gzip -dc "$snap" | sha256sum | cut -d' ' -f1)" = "$(sha "$T/kallsyms")"
check "...its origin is recorded" test "$(origin given symbols)" = "--symbols"
elp kernel show given > "$T/out"
check "kernel show lists each input with its origin" grep -q "^  symbols  $T/kallsyms (--symbols)" "$T/out"
check "...and its sha256" grep -q "sha256 $(sha "$T/kallsyms")" "$T/out"
check "...the config's origin and sha256" grep -q "^  config   $T/config (--config)" "$T/out"
elp --json kernel show given > "$T/out"
check "kernel show --json has the inputs" \
	grep -q "\"inputs\":{\"config\":{\"path\":\"$T/config\",\"origin\":\"--config\",\"sha256\":\"$(sha "$T/config")\"}" "$T/out"
elp kernel add --release $REL --name given2 --source "$T/src" --config "$T/config" --symbols "$T/kallsyms" > /dev/null 2>&1
check "the same table twice is one snapshot" test "$(ls "$T/symbols" | wc -l)" = 1
cp "$snap" "$T/snap.keep"
printf 'ffffffff81000000 T _text\n' | gzip -c > "$snap"
elp kernel show given > "$T/out" 2>&1
check "kernel show warns of an altered snapshot" \
	grep -q "warning: the symbol table of kernel 'given' was altered ('$snap'): builds for it are refused" "$T/out"
rm "$snap"
elp kernel show given > "$T/out" 2>&1
check "...and of a deleted one" \
	grep -q "warning: the symbol table of kernel 'given' is missing from the store ('$snap')" "$T/out"
cp "$T/snap.keep" "$snap"
elp kernel show given > "$T/out" 2>&1
check "...not of an intact one" sh -c "! grep -q warning '$T/out'"

# --- refusals: one line naming the file and the reason, nothing recorded
bad "a System.map stub" "'$T/stub.map' is a System.map stub (\"The real System.map is in the linux-image-<version>-dbg package\")" \
	kernel add --release $REL --name s --source "$T/src" --config "$T/config" --symbols "$T/stub.map"
bad "a table read without privilege" "'$T/zero' has only zero addresses" \
	kernel add --release $REL --name s --source "$T/src" --config "$T/config" --symbols "$T/zero"
: > "$T/empty.map"
bad "an empty table" "'$T/empty.map' is empty" \
	kernel add --release $REL --name s --source "$T/src" --config "$T/config" --symbols "$T/empty.map"
bad "a missing table" "'$T/nope.map'" \
	kernel add --release $REL --name s --source "$T/src" --config "$T/config" --symbols "$T/nope.map"
check "no snapshot of a refused table" test "$(ls "$T/symbols" | wc -l)" = 1

# --- found where users have them, in order, saying which
make_source_tree "$T/src2"
mkdir -p "$T/build"
cp "$T/kallsyms" "$T/build/System.map"
cp "$T/other.map" "$T/src2/System.map"
elp kernel add --release $REL --name b --source "$T/src2" --config "$T/config" --build "$T/build" > "$T/out" 2>&1
check "System.map in the build dir first" test "$(origin b symbols)" = "System.map in the build dir"
check "...and said" grep -q "symbols  $T/build/System.map (System.map in the build dir)" "$T/out"
elp kernel add --release $REL --name s2 --source "$T/src2" --config "$T/config" > "$T/out" 2>&1
check "System.map in the source dir" test "$(origin s2 symbols)" = "System.map in the source dir"
check "...its table" test "$(col s2 symbols_sha256)" = "$(sha "$T/other.map")"

# a kernel image: a bzImage header whose version string names the release
mkimage() { # FILE RELEASE
	head -c 1024 /dev/zero > "$1"
	printf 'HdrS\017\002' | dd of="$1" bs=1 seek=$((0x202)) conv=notrunc 2>/dev/null
	printf '\000\001' | dd of="$1" bs=1 seek=$((0x20e)) conv=notrunc 2>/dev/null
	printf '%s (builder@host) #1 SMP\000' "$2" | dd of="$1" bs=1 seek=$((0x300)) conv=notrunc 2>/dev/null
}
mkdir -p "$T/pkg/boot"
mkimage "$T/pkg/boot/vmlinuz-$REL" $REL
cp "$T/stub.map" "$T/pkg/boot/System.map-$REL"
before=$(dump)
elp kernel add --release $REL --name img --source "$T/src" --config "$T/config" --image "$T/pkg/boot/vmlinuz-$REL" > "$T/out" 2>&1
rc=$?
check "a System.map stub beside the image is skipped, saying why" \
	grep -q "warning: skipping '$T/pkg/boot/System.map-$REL': a System.map stub" "$T/out"
check "...then the image is booted in qemu for its table" grep -q "booting '$T/pkg/boot/vmlinuz-$REL' in qemu" "$T/out"
check "...an image that does not boot is an error" test $rc -ne 0
check "...saying so" grep -q "^error: booting '$T/pkg/boot/vmlinuz-$REL' in qemu gave no symbol table" "$T/out"
check "...nothing recorded" test "$(dump)" = "$before"
cp "$T/kallsyms" "$T/pkg/boot/System.map-$REL"
cp "$T/config" "$T/pkg/boot/config-$REL"
mkdir -p "$T/pkg/usr/src/linux-headers-$REL" && : > "$T/pkg/usr/src/linux-headers-$REL/Module.symvers"
elp kernel add --name img2 --source "$T/src" --image "$T/pkg/boot/vmlinuz-$REL" > "$T/out" 2>&1
check "the release comes from the image" grep -q "release $REL (from the image's version string)" "$T/out"
check "System.map-RELEASE beside the image" test "$(origin img2 symbols)" = "System.map-RELEASE beside the image"
check "config-RELEASE beside the image" grep -q "config   $T/pkg/boot/config-$REL (config-RELEASE beside the image)" "$T/out"
check "the headers in the image's package root" \
	grep -q "build    $T/pkg/usr/src/linux-headers-$REL (the image's package root)" "$T/out"
check "...the image's sha256 and origin" \
	test "$(sqlite3 "$DB" "SELECT origin || ' ' || sha256 FROM kernel_inputs WHERE input='image'")" = "--image $(sha "$T/pkg/boot/vmlinuz-$REL")"
mkimage "$T/other-vmlinuz" 6.1.0-56-amd64
bad "an image of another release" "kernel image '$T/other-vmlinuz' is release 6.1.0-56-amd64, not $REL" \
	kernel add --release $REL --name x --source "$T/src" --config "$T/config" --image "$T/other-vmlinuz"
bad "an image that is no kernel" "'$T/config' is not a kernel image" \
	kernel add --release $REL --name x --source "$T/src" --config "$T/config" --image "$T/config"

# /boot/System.map-RELEASE and /proc/kallsyms of the running kernel (a fake root)
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/boot"
echo $REL > "$R/proc/sys/kernel/osrelease"
echo "Linux version $REL (debian-kernel@lists.debian.org) (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3" > "$R/proc/version"
cp "$T/kallsyms" "$R/proc/kallsyms"
cp "$T/other.map" "$R/boot/System.map-$REL"
ELIVEPATCH_ROOT=$R elp kernel add --release $REL --name boot --source "$T/src" --config "$T/config" > /dev/null 2>&1
check "/boot/System.map-RELEASE before /proc/kallsyms" test "$(origin boot symbols)" = "/boot/System.map-RELEASE"
rm "$R/boot/System.map-$REL"
ELIVEPATCH_ROOT=$R elp kernel add --release $REL --name live --source "$T/src" --config "$T/config" > /dev/null 2>&1
check "/proc/kallsyms when the release is the running kernel's" \
	test "$(origin live symbols)" = "/proc/kallsyms of the running kernel"
check "...snapshotted" test "$(col live symbols_sha256)" = "$(sha "$T/kallsyms")"
ELIVEPATCH_ROOT=$R elp kernel add --release 6.1.0-56-amd64 --name notlive --source "$T/src" --config "$T/config" > /dev/null 2>&1
check "...not for another release" test -z "$(col notlive symbols_path)"
echo "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP" > "$R/proc/version"
export ELIVEPATCH_ROOT=$R
bad "a /proc/kallsyms whose /proc/version is another kernel's" \
	"'$R/proc/version' says \"Linux version 6.1.0-56-amd64 .*\", not release $REL" \
	kernel add --release $REL --name y --source "$T/src" --config "$T/config"
echo "Linux version $REL (debian-kernel@lists.debian.org) #1 SMP" > "$R/proc/version"
gzip -c "$T/config" > "$R/proc/config.gz"
elp kernel detect --add --name detected > /dev/null 2>&1
check "detect --add snapshots /proc/kallsyms" \
	test "$(col detected symbols_path)" = "$T/symbols/$(sha "$T/kallsyms").gz"
cp "$T/zero" "$R/proc/kallsyms"
bad "detect --add of /proc/kallsyms read without privilege" "'$R/proc/kallsyms' has only zero addresses" \
	kernel detect --add --name z
unset ELIVEPATCH_ROOT

# --- modules trees: lib/modules/RELEASE with modules.dep, of the release
mkko() { # FILE RELEASE: an object with a .modinfo vermagic, as libkmod reads it
	printf 'int x;\n' > "$T/m.c" && cc -c -o "$1" "$T/m.c" &&
		printf 'vermagic=%s SMP preempt mod_unload modversions \000name=fake\000' "$2" > "$T/modinfo" &&
		objcopy --add-section .modinfo="$T/modinfo" "$1"
}
M=$T/mods/lib/modules/$REL
mkdir -p "$M/kernel/fs"
mkko "$M/kernel/fs/fake.ko" $REL || bail "a fake module"
echo "kernel/fs/fake.ko:" > "$M/modules.dep"
elp kernel add --release $REL --name m --source "$T/src" --config "$T/config" --modules "$T/mods" > "$T/out" 2>&1
check "--modules ROOT: the tree under it" test "$(col m modules_dir)" = "$M"
check "...shown with its origin" grep -q "modules  $M (--modules)" "$T/out"
elp kernel add --release $REL --name m2 --source "$T/src" --config "$T/config" --modules "$M" > /dev/null 2>&1
check "--modules lib/modules/RELEASE itself" test "$(col m2 modules_dir)" = "$M"
bad "a modules tree of another release" "modules tree '$M' is for release $REL, not 6.1.0-56-amd64" \
	kernel add --release 6.1.0-56-amd64 --name x --source "$T/src" --config "$T/config" --modules "$M"
mkdir -p "$T/nodep"
bad "a modules tree without modules.dep" "modules tree '$T/nodep' has no modules.dep" \
	kernel add --release $REL --name x --source "$T/src" --config "$T/config" --modules "$T/nodep"
bad "a modules tree that does not exist" "cannot use modules tree '$T/nope'" \
	kernel add --release $REL --name x --source "$T/src" --config "$T/config" --modules "$T/nope"
mkdir -p "$T/pkg/lib/modules" && cp -r "$M" "$T/pkg/lib/modules/"
elp kernel add --release $REL --name dflt --source "$T/src" --config "$T/config" --image "$T/pkg/boot/vmlinuz-$REL" > /dev/null 2>&1
check "the modules tree defaults to the image's package root" \
	test "$(col dflt modules_dir)" = "$T/pkg/lib/modules/$REL"
check "...saying so" test "$(origin dflt modules)" = "the image's package root"

# --- a source dir the kernel was built in (Gentoo: make in /usr/src/linux-X)
G=$T/linux-6.6.30-gentoo
make_source_tree "$G"
mkdir -p "$G/include/config" "$G/include/generated"
echo 6.6.30-gentoo > "$G/include/config/kernel.release"
echo '#define UTS_RELEASE "6.6.30-gentoo"' > "$G/include/generated/utsrelease.h"
cp "$T/config" "$G/.config"
printf '0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n' > "$G/Module.symvers"
mkvmlinux() { # DIR RELEASE: a vmlinux with a banner and a build-id, and its System.map
	printf 'void _text(void) {}\nconst char linux_banner[] = "Linux version %s (builder@host) #1 SMP\\n";\nvoid _start(void) {}\n' \
		"$2" > "$T/v.c" &&
		cc -O0 -nostdlib -static -Wl,--build-id=sha1 -o "$1/vmlinux" "$T/v.c" &&
		nm --defined-only "$1/vmlinux" > "$1/System.map"
}
mkvmlinux "$G" 6.6.30-gentoo || bail "a vmlinux"
touch "$T/marker"; sleep 1
elp kernel add --source "$G" > "$T/out" 2>&1
check "kernel add --source of a built tree alone" grep -q "added kernel '6.6.30-gentoo'" "$T/out"
check "...the release from the tree, shown" grep -q "release 6.6.30-gentoo (from the source dir's include/config/kernel.release)" "$T/out"
check "...its .config" grep -q "config   $G/.config (the source dir's .config)" "$T/out"
check "...build dir = the source dir" grep -q "build    $G (the source dir (built in place))" "$T/out"
check "...its System.map" grep -q "symbols  $G/System.map (System.map in the build dir)" "$T/out"
check "...recorded" test "$(col 6.6.30-gentoo build_dir)|$(col 6.6.30-gentoo config_path)" = "$G|$G/.config"
check "...nothing written into the tree" test -z "$(find "$G" -newer "$T/marker")"
check "...the build-id of its vmlinux" \
	test "$(col 6.6.30-gentoo build_id)" = "$(readelf -n "$G/vmlinux" | sed -n 's/.*Build ID: //p')"
G2=$T/linux-6.6.31-gentoo
cp -r "$G" "$G2"
echo 6.6.31-gentoo > "$G2/include/config/kernel.release"
mkvmlinux "$G2" 6.6.31-gentoo || bail "a vmlinux"
cp "$G/System.map" "$G2/System.map"
sed -i 's/^0*402000 R linux_banner$/0000000000402010 R linux_banner/' "$G2/System.map"
bad "a System.map that is not the vmlinux's" \
	"'$G2/System.map' is another kernel's symbol table: its linux_banner does not point at \"Linux version 6.6.31-gentoo ...\" in '$G2/vmlinux'" \
	kernel add --source "$G2"
bad "a built tree of another release" "kernel source '$G' is built for release 6.6.30-gentoo, not 6.6.31-gentoo" \
	kernel add --release 6.6.31-gentoo --name g --source "$G"
mkdir -p "$T/empty"
bad "a source dir that is not a kernel tree" "'$T/empty' is not a kernel source tree" \
	kernel add --source "$T/empty"
elp kernel add --source "$T/src" > "$T/out" 2>&1
check "a plain source tree needs --release (usage error)" test $? -eq 129
check "...saying why" grep -q "error: --release is required: '$T/src' is not a built kernel tree" "$T/out"

t_done
