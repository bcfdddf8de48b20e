#!/bin/sh
# e2e: what a kernel record is made of, with the reference kernel.
#   - registered from its image, config and source: the symbol table is derived by the
#     tool's own qemu boot, and equals the harness's dump; headers from the package root;
#     a module-target livepatch (binfmt_misc) builds with --modules at an unpacked tree
#   - a kallsyms dump of a host where the target module is loaded: the module's symbols
#     are not counted twice (issue #10.7)
#   - no modules tree: the build says so, naming the module and where it looked
#   - tables checked against the image: a KASLR offset is fine, another kernel's table
#     (linux_banner elsewhere) and a live /proc/kallsyms of another build are refused
#   - a symbol snapshot altered or deleted after `kernel add`: the build is refused
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
sha() { sha256sum < "$1" | cut -d' ' -f1; }
origin() { q "SELECT origin FROM kernel_inputs JOIN kernels ON id = kernel_id WHERE name='$1' AND input='$2'"; }
# klp PATCH: the livepatch's klp symbols and relocation sections, sorted
klp() { readelf -sW "$t/$1.ko" | grep -o '\.klp\.sym\.[^ ]*' | sort | tr '\n' ' '
	readelf -SW "$t/$1.ko" | grep -o '\.klp\.rela\.[^ ]*' | sort | tr '\n' ' '; }
late=$patches/engine-module-late.patch

# --- from nothing but image, config and source: symbols by the tool's own boot
# a cache of its own, so that this boots (builds below share the prepared trees)
t0=$(date +%s)
ELIVEPATCH_CACHE=$t/cache elp kernel add --name img --source "$E2E_SOURCE_TARBALL" --config "$E2E_CONFIG" \
	--image "$E2E_VMLINUZ" --modules "$E2E_DIR/root" > "$t/img.log" 2>&1
rc=$?
check "kernel add --image derives the symbol table ($(($(date +%s) - t0)) s)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/img.log"
check "...the release from the image" grep -q "release $E2E_RELEASE (from the image's version string)" "$t/img.log"
check "...booting it" grep -q "booting '$E2E_VMLINUZ' in qemu to read its symbol table" "$t/img.log"
check "...the Debian System.map stub beside the image is skipped" \
	grep -q "skipping '$E2E_DIR/root/boot/System.map-$E2E_RELEASE': a System.map stub" "$t/img.log"
check "...the symbols' origin is the boot" [ "$(origin img symbols)" = "derived by booting the image in qemu" ]
check "...the derived table is the kernel's /proc/kallsyms" [ "$(q "SELECT symbols_sha256 FROM kernels WHERE name='img'")" = "$(sha "$ks")" ]
check "...the build-id and /proc/version of the booted kernel are recorded" \
	[ -n "$(q "SELECT build_id FROM kernels WHERE name='img' AND version_text LIKE 'Linux version $E2E_RELEASE %'")" ]
check "...the headers of the image's package root to link against" \
	[ "$(origin img build)" = "the image's package root" ]
check "...the modules tree under --modules" [ "$(q "SELECT modules_dir FROM kernels WHERE name='img'")" = "$E2E_MODULES" ]
t0=$(date +%s)
ELIVEPATCH_CACHE=$t/cache elp kernel add --name img2 --source "$E2E_SOURCE_TARBALL" \
	--image "$E2E_VMLINUZ" > "$t/img2.log" 2>&1
check "a second add, of source and image alone, uses the kept boot ($(($(date +%s) - t0)) s)" \
	grep -q "symbol table of '$E2E_VMLINUZ' from an earlier boot ('$t/cache/symbols/boot-" "$t/img2.log"

elp --json build --kernel img --patch "$late" -o "$t/img.ko" > "$t/img.json" 2> "$t/img.err"
rc=$?
check "a module-target livepatch builds for it" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/img.err" | tail -n 5
check "...its klp_object is binfmt_misc" grep -q '"object":"binfmt_misc"' "$t/img.json"

# the same livepatch for the kernel added the harness's way (--symbols): same relocations
e2e_add_kernel ref "$ks" || bail "kernel add ref"
elp build --kernel ref --patch "$late" -o "$t/ref.ko" > /dev/null 2> "$t/ref.err" ||
	{ sed 's/^/# /' "$t/ref.err" | tail -n 5; bail "build for ref"; }
check "...with the klp symbols of the kernel added with --symbols" [ "$(klp img)" = "$(klp ref)" ]
check "...which has some" [ -n "$(klp ref)" ]

# --- #10.7: the kallsyms of a host where binfmt_misc is loaded lists its symbols
ko=$(e2e_module_file binfmt_misc) || bail "binfmt_misc.ko"
{ cat "$ks"
  nm -p --defined-only "$ko" | awk '$2 ~ /^[tTdDbBrR]$/ {
	printf "ffffffffc0%06x %s %s\t[binfmt_misc]\n", NR * 16, $2, $3 }'
} > "$t/kallsyms-loaded"
check "the dump lists binfmt_misc's bm_status_read" grep -q ' t bm_status_read	\[binfmt_misc\]$' "$t/kallsyms-loaded"
e2e_add_kernel loaded "$t/kallsyms-loaded" || bail "kernel add loaded"
elp -v build --kernel loaded --patch "$late" -o "$t/loaded.ko" > /dev/null 2> "$t/loaded.err"
rc=$?
check "a module already in the kernel's table: the livepatch builds" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/loaded.err" | tail -n 5
check "...from the table's symbols of the module, not the .ko's again" \
	grep -q "binfmt_misc: symbols from the kernel's table" "$t/loaded.err"
check "...the same klp symbols (each counted once)" [ "$(klp loaded)" = "$(klp ref)" ]

# --- no modules tree: say so
if [ -d "/lib/modules/$E2E_RELEASE" ]; then
	skip "no modules tree (this host has /lib/modules/$E2E_RELEASE)"
else
	cp "$E2E_CONFIG" "$t/config"
	# no --build: the headers' package root has the modules
	elp kernel add --name nomods --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
		--config "$t/config" --symbols "$ks" > "$t/nomods.log" 2>&1 ||
		bail "kernel add nomods"
	check "without a modules tree none is recorded" [ -z "$(q "SELECT modules_dir FROM kernels WHERE name='nomods'")" ]
	elp build --kernel nomods --patch "$late" -o "$t/nomods.ko" > /dev/null 2> "$t/nomods.err"
	check "a module-target build without a modules tree fails" [ $? != 0 ]
	check "...saying which module was not found where, and what to pass" grep -q \
		"no modules tree for $E2E_RELEASE: binfmt_misc.ko not found (no /lib/modules/$E2E_RELEASE); pass --modules" \
		"$t/nomods.err"
	check "...not that a symbol is missing from the table" sh -c "! grep -q 'symbol table of binfmt_misc' '$t/nomods.err'"
fi
elp kernel add --name otherrel --release 6.1.0-56-amd64 --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --modules "$E2E_MODULES" > "$t/otherrel.log" 2>&1
check "a modules tree of another release is refused" \
	grep -q "error: modules tree '$E2E_MODULES' is for release $E2E_RELEASE, not 6.1.0-56-amd64" "$t/otherrel.log"

# --- tables checked against the image: linux_banner must point at its banner
sed 's/^ffffffff8/ffffffff9/' "$ks" > "$t/kallsyms-kaslr"
elp kernel add --name kaslr --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --image "$E2E_VMLINUZ" --symbols "$t/kallsyms-kaslr" > "$t/kaslr.log" 2>&1
check "a table of the image's kernel with a KASLR offset is accepted" [ $? = 0 ]
check "...and the image's build-id recorded" \
	[ "$(q "SELECT build_id FROM kernels WHERE name='kaslr'")" = "$(q "SELECT build_id FROM kernels WHERE name='img'")" ]
sed 's/^\(ffffffff[0-9a-f]*\)0 \([DR]\) linux_banner$/\18 \2 linux_banner/' "$ks" > "$t/kallsyms-other"
check "(a table whose linux_banner is elsewhere)" sh -c "! cmp -s '$ks' '$t/kallsyms-other'"
before=$(q .dump)
elp kernel add --name other --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --image "$E2E_VMLINUZ" --symbols "$t/kallsyms-other" > "$t/other.log" 2>&1
check "another kernel's table is refused" [ $? != 0 ]
check "...naming it, the reason and the image" grep -q \
	"^error: '$t/kallsyms-other' is another kernel's symbol table: its linux_banner does not point at \"Linux version $E2E_RELEASE ...\" in '$E2E_VMLINUZ'" \
	"$t/other.log"
check "...nothing recorded" [ "$(q .dump)" = "$before" ]

# /proc/kallsyms of a running kernel (a fake root) whose build-id is not the image's
id=$(q "SELECT build_id FROM kernels WHERE name='img'")
notes() { # BUILD-ID: an ELF note block with NT_GNU_BUILD_ID
	printf '\004\000\000\000\024\000\000\000\003\000\000\000GNU\000'
	echo "$1" | sed 's/../& /g' | tr ' ' '\n' | while read -r b; do
		[ -n "$b" ] && printf "\\$(printf %o $((0x$b)))"; done
}
r=$t/root
mkdir -p "$r/proc/sys/kernel" "$r/sys/kernel"
echo "$E2E_RELEASE" > "$r/proc/sys/kernel/osrelease"
q "SELECT version_text FROM kernels WHERE name='img'" > "$r/proc/version"
cp "$ks" "$r/proc/kallsyms"
notes "$id" > "$r/sys/kernel/notes"
ELIVEPATCH_ROOT=$r elp kernel add --name live --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --image "$E2E_VMLINUZ" > "$t/live.log" 2>&1
check "/proc/kallsyms of the running kernel with the image's build-id is accepted" \
	[ "$(origin live symbols)" = "/proc/kallsyms of the running kernel" ]
notes "0123456789abcdef0123456789abcdef01234567" > "$r/sys/kernel/notes"
before=$(q .dump)
ELIVEPATCH_ROOT=$r elp kernel add --name live2 --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --image "$E2E_VMLINUZ" > "$t/live2.log" 2>&1
check "...with another build-id it is refused" [ $? != 0 ]
check "...naming both build-ids and the image" grep -q \
	"^error: the running kernel's build-id 0123456789abcdef0123456789abcdef01234567 (/sys/kernel/notes) is not that of '$E2E_VMLINUZ' ($id)" \
	"$t/live2.log"
check "...nothing recorded" [ "$(q .dump)" = "$before" ]

# --- the snapshot is the truth: altered or deleted, the build is refused
snap=$(q "SELECT symbols_path FROM kernels WHERE name='ref'")
check "ref's table is a snapshot in the catalogue's store" [ "$snap" = "$t/symbols/$(sha "$ks").gz" ]
cp "$snap" "$t/snap.keep"
{ gzip -dc "$t/snap.keep"; echo "ffffffff81000000 t extra_symbol"; } | gzip -c > "$snap"
elp build --kernel ref --patch "$patches/engine-clones.patch" -o "$t/x.ko" > /dev/null 2> "$t/altered.err"
check "an altered snapshot refuses the build" [ $? != 0 ]
check "...naming it and the kernel" grep -q "the symbol table of kernel 'ref' was altered: '$snap' has sha256" "$t/altered.err"
check "...before compiling anything" sh -c "! grep -q '\\[compile\\]' '$t/altered.err'"
rm -f "$snap"
elp build --kernel ref --patch "$patches/engine-clones.patch" -o "$t/x.ko" > /dev/null 2> "$t/missing.err"
check "a deleted snapshot refuses the build" [ $? != 0 ]
check "...naming it" grep -q "the symbol table of kernel 'ref' is missing from the store ('$snap')" "$t/missing.err"
cp "$t/snap.keep" "$snap"

t_done
