#!/bin/sh
# elivepatch kernel: detect, add, list, show, remove; bad input.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

# --- add / list / show
elp kernel add --release 6.1.0-57-amd64 --source "$T/src" --config "$T/config" > "$T/out" 2>&1
check "kernel add from a source dir" grep -q "added kernel '6.1.0-57-amd64'" "$T/out"
check "the config text is stored" \
	test "$(sqlite3 "$DB" "SELECT config FROM kernels WHERE name='6.1.0-57-amd64'")" = "$(cat "$T/config")"
check "config sha256 is stored" \
	test "$(sqlite3 "$DB" "SELECT config_sha256 FROM kernels")" = "$(sha256sum < "$T/config" | cut -d' ' -f1)"
check "the compiler comes from CONFIG_CC_VERSION_TEXT" \
	test "$(sqlite3 "$DB" "SELECT cc_version_text FROM kernels")" = "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"
check "a kernel-add event is recorded" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind='kernel-add'")" = 1

# a tarball source with a top-level directory
mkdir -p "$T/tar/linux-6.1" && cp -r "$T/src/." "$T/tar/linux-6.1/"
tar -C "$T/tar" -cJf "$T/linux-6.1.tar.xz" linux-6.1
gzip -c "$T/config" > "$T/config.gz"
elp kernel add --release 6.1.0-57-amd64 --name tarball --source "$T/linux-6.1.tar.xz" --config "$T/config.gz" > "$T/out" 2>&1
check "kernel add from a tarball and a gzipped config" grep -q "added kernel 'tarball'" "$T/out"
check "...source kind is tarball" test "$(sqlite3 "$DB" "SELECT source_kind FROM kernels WHERE name='tarball'")" = tarball
check "...the gzipped config is decompressed" \
	test "$(sqlite3 "$DB" "SELECT config_sha256 FROM kernels WHERE name='tarball'")" = "$(sha256sum < "$T/config" | cut -d' ' -f1)"

elp kernel list > "$T/out"
check "kernel list shows both (tab-separated when piped)" \
	test "$(cut -f2 "$T/out" | tr '\n' ' ')" = "6.1.0-57-amd64 tarball "
elp --json kernel list > "$T/out"
check "kernel list --json" grep -q '"name":"tarball","release":"6.1.0-57-amd64"' "$T/out"
elp kernel show tarball > "$T/out"
check "kernel show by name" grep -q "^source: *$T/linux-6.1.tar.xz" "$T/out"
elp kernel show 1 > "$T/out"
check "kernel show by id" grep -q "^name: *6.1.0-57-amd64" "$T/out"
elp kernel show 6.1.0-57-amd64 > "$T/out" 2>&1
check "kernel show by release (a name matches first)" test $? -eq 0
check "...shows the kernel of that name, not the other of that release" \
	test "$(sed -n 's/^name: *//p' "$T/out")" = 6.1.0-57-amd64

# --- bad input: one-line error naming the input, exit 1, catalogue unchanged
bad() { # DESCRIPTION EXPECTED-ERROR-REGEX ARGS...
	desc=$1 re=$2; shift 2
	before=$(dump)
	elp "$@" > "$T/out" 2>&1
	rc=$?
	check "$desc: non-zero exit" test "$rc" -ne 0
	check "$desc: error names the input" grep -q "$re" "$T/out"
	check "$desc: catalogue unchanged" test "$(dump)" = "$before"
}
bad "missing source" "cannot open kernel source '$T/nope'" \
	kernel add --release r --source "$T/nope" --config "$T/config"
mkdir -p "$T/empty"
bad "a directory that is no kernel tree" "'$T/empty' is not a kernel source tree" \
	kernel add --release r --source "$T/empty" --config "$T/config"
echo junk > "$T/junk.tar.xz"
bad "a tarball that is not an archive" "kernel source '$T/junk.tar.xz'" \
	kernel add --release r --source "$T/junk.tar.xz" --config "$T/config"
bad "missing config" "config '$T/missing'" \
	kernel add --release r --source "$T/src" --config "$T/missing"
echo "hello" > "$T/notconfig"
bad "a config that is not a config" "'$T/notconfig' is not a kernel config" \
	kernel add --release r --source "$T/src" --config "$T/notconfig"
bad "a config without CONFIG_LIVEPATCH" "config-nolp has no CONFIG_LIVEPATCH=y" \
	kernel add --release r --source "$T/src" --config "$T/config-nolp"
bad "a duplicate name" "kernel 'tarball' is already in the catalogue" \
	kernel add --release r --name tarball --source "$T/src" --config "$T/config"
echo "not symbols" > "$T/syms"
bad "a symbol table that is not kallsyms" "'$T/syms' is not a kallsyms symbol table" \
	kernel add --release r --source "$T/src" --config "$T/config" --symbols "$T/syms"
bad "show of an unknown kernel" "no kernel 'nope' in the catalogue" kernel show nope

elp kernel add --release r --source "$T/src" --config "$T/config-nolp" --force > "$T/out" 2>&1
check "--force adds a kernel without CONFIG_LIVEPATCH, warning loudly" \
	grep -q "warning: .*no CONFIG_LIVEPATCH=y" "$T/out"

# usage errors exit 129
elp kernel add --release r > /dev/null 2>&1
check "missing required options exit 129" test $? -eq 129
elp kernel add --bogus > /dev/null 2>&1
check "an unknown option exits 129" test $? -eq 129
elp kernel frobnicate > /dev/null 2>&1
check "an unknown subcommand exits 129" test $? -eq 129
elp kernel add --help > "$T/out"
check "kernel add --help lists its options" grep -q -- "--release" "$T/out"
"$ELP" help kernel > "$T/out"
check "elivepatch help kernel lists the subcommands" grep -q "detect" "$T/out"

# --- kernel patch add: the out-of-tree patches a kernel was built with, in order
cat > "$T/oot1.patch" <<'PATCH'
--- a/fs/proc/cmdline.c
+++ b/fs/proc/cmdline.c
@@ -1,4 +1,4 @@
 static int x(void)
 {
-	return 0;
+	return 1;
 }
PATCH
cat > "$T/oot2.patch" <<'PATCH'
diff --git a/Kconfig b/Kconfig
--- a/Kconfig
+++ b/Kconfig
@@ -1 +1,2 @@
 mainmenu "Linux"
+source "gentoo/Kconfig"
PATCH
printf 'diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\ngarbage here\n' > "$T/bad.patch"
elp kernel patch add 6.1.0-57-amd64 "$T/oot1.patch" "$T/oot2.patch" > "$T/out" 2>&1
check "kernel patch add records two patches" grep -q "recorded 2 out-of-tree patches" "$T/out"
check "...in order" test "$(sqlite3 "$DB" "SELECT group_concat(p.name, ' ') FROM kernel_patches kp JOIN patches p ON p.id = kp.patch_id ORDER BY kp.position")" = "6.1.0-57-amd64:oot1 6.1.0-57-amd64:oot2"
check "...as kernel patches" test "$(sqlite3 "$DB" "SELECT count(*) FROM patches WHERE kind = 'kernel'")" = 2
elp kernel show 6.1.0-57-amd64 > "$T/out"
check "kernel show lists them" grep -q "^  2\. 6.1.0-57-amd64:oot2" "$T/out"
bad "kernel patch add of a file that is not a unified diff" "$T/bad.patch:[0-9]" \
	kernel patch add 6.1.0-57-amd64 "$T/bad.patch"
bad "kernel patch add with one bad file among good ones adds none" "$T/bad.patch" \
	kernel patch add tarball "$T/oot1.patch" "$T/bad.patch"
bad "kernel patch add of a patch already recorded for the kernel" "already recorded for kernel '6.1.0-57-amd64'" \
	kernel patch add 6.1.0-57-amd64 "$T/oot1.patch"
bad "kernel patch add of a missing file" "$T/nope.patch" \
	kernel patch add 6.1.0-57-amd64 "$T/nope.patch"
bad "kernel patch add to an unknown kernel" "no kernel 'nope'" \
	kernel patch add nope "$T/oot1.patch"
elp kernel patch add 6.1.0-57-amd64 > /dev/null 2>&1
check "kernel patch add without files is a usage error" test $? -eq 129

# --- remove: refused while builds reference the kernel, unless --force
sqlite3 "$DB" "INSERT INTO builds (kernel_id, kernel_release, module_name, inputs_sha256, status, created_at) VALUES ((SELECT id FROM kernels WHERE name='tarball'), '6.1.0-57-amd64', 'elp_x', 'abc', 'succeeded', 1)"
bad "remove while a build references it" "kernel 'tarball' is referenced by 1 build" kernel remove tarball
elp kernel remove --force tarball > "$T/out" 2>&1
check "remove --force removes it" test "$(sqlite3 "$DB" "SELECT count(*) FROM kernels WHERE name='tarball'")" = 0
check "...and keeps the build, detached" test "$(sqlite3 "$DB" "SELECT count(*) FROM builds WHERE kernel_id IS NULL")" = 1
elp kernel remove r > /dev/null 2>&1
check "remove without builds" test "$(sqlite3 "$DB" "SELECT count(*) FROM kernels WHERE name='r'")" = 0

# --- detect, against a fake root (config.gz through libarchive, build-id note)
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/sys/kernel" "$R/lib/modules/6.1.0-57-amd64/build"
echo 6.1.0-57-amd64 > "$R/proc/sys/kernel/osrelease"
echo "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3" > "$R/proc/version"
gzip -c "$T/config" > "$R/proc/config.gz"
# an ELF note: namesz 4, descsz 20, type 3 (NT_GNU_BUILD_ID), "GNU\0", 20 bytes
printf '\004\000\000\000\024\000\000\000\003\000\000\000GNU\000\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024' > "$R/sys/kernel/notes"
ELIVEPATCH_ROOT=$R elp kernel detect > "$T/out" 2>&1
check "detect reads the release" grep -q "^release: *6.1.0-57-amd64" "$T/out"
check "detect reads /proc/config.gz" grep -q "^config: *$R/proc/config.gz" "$T/out"
check "detect finds the compiler" grep -q "^compiler: *gcc-12 (Debian" "$T/out"
check "detect reads the build-id note" grep -q "^build-id: *0102030405060708090a0b0c0d0e0f1011121314" "$T/out"
check "detect finds the build dir" grep -q "^build dir: *$R/lib/modules/6.1.0-57-amd64/build" "$T/out"
ELIVEPATCH_ROOT=$R elp --json kernel detect > "$T/out" 2>&1
check "detect --json" grep -q '"livepatch":true' "$T/out"
rm "$R/proc/config.gz"
mkdir -p "$R/boot" && cp "$T/config" "$R/boot/config-6.1.0-57-amd64"
ELIVEPATCH_ROOT=$R elp kernel detect --add --name running > "$T/out" 2>&1
check "detect falls back to /boot/config-RELEASE and --add records it" \
	test "$(sqlite3 "$DB" "SELECT config_path FROM kernels WHERE name='running'")" = "$R/boot/config-6.1.0-57-amd64"
rm "$R/boot/config-6.1.0-57-amd64"
before=$(dump)
ELIVEPATCH_ROOT=$R elp kernel detect --add --name other > "$T/out" 2>&1
check "detect without any config fails" test $? -ne 0
check "...saying where it looked" grep -q "cannot find the config of kernel '6.1.0-57-amd64'" "$T/out"
check "...catalogue unchanged" test "$(dump)" = "$before"

t_done
