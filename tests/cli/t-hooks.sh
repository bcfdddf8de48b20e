#!/bin/sh
# The Portage, installkernel and kernel-install hooks: invoked as those
# tools invoke them (argv and environment), under bash --posix and set -u,
# against a temporary root and catalogue; then through a real `emerge` and
# a real `emaint sync` (the Portage source snapshot of portage.md, else the
# system's Portage; SKIP when neither runs).
# The bash -c scripts expand in the phase's shell, not here:
# shellcheck disable=SC2016
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

hooks=$(cd "$(dirname "$0")/../../hooks" && pwd)
patches=$(cd "$(dirname "$0")/../../contrib/examples" && pwd)
unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT KV_FULL
ELIVEPATCH_BIN=$ELP
ELIVEPATCH_DB=$DB
export ELIVEPATCH_BIN ELIVEPATCH_DB
q() { sqlite3 "$DB" "$1"; }
jobs_now() { q "SELECT count(*) FROM jobs"; }
last() { q "SELECT $1 FROM jobs ORDER BY id DESC LIMIT 1"; }
R=$T/root
mkdir -p "$R/usr/src/linux-6.6.30-gentoo" "$R/usr/src/linux-6.6.31-gentoo-r1" \
	"$R/usr/src/linux-6.7" "$R/boot" "$R/etc/portage"
echo image > "$R/boot/vmlinuz-6.6.30-gentoo"

# the variables an ebuild phase exports (ROOT is empty for /)
phase_env() { # CATEGORY PN PV PVR COMMAND...
	_c=$1 _pn=$2 _pv=$3 _pvr=$4
	shift 4
	env CATEGORY="$_c" PN="$_pn" PV="$_pv" PVR="$_pvr" P="$_pn-$_pv" \
		PF="$_pn-$_pvr" EBUILD_PHASE=postinst ROOT= EROOT="$R/" \
		EPREFIX="$R" PORTAGE_CONFIGROOT="$R" "$@"
}
# source the snippet as /etc/portage/bashrc does and run the phase hook
postinst() { # CATEGORY PN PV PVR [KV_FULL]
	phase_env "$1" "$2" "$3" "$4" bash --posix -u -c \
		'[ -n "$5" ] && KV_FULL=$5; . "$0"; post_pkg_postinst' \
		"$hooks/portage-bashrc" "$@" "${5:-}"
}

# ---- portage-bashrc ----
postinst sys-kernel gentoo-sources 6.6.30 6.6.30 6.6.30-gentoo > "$T/out" 2> "$T/err"
check "post_pkg_postinst of a *-sources package returns 0" test $? -eq 0
check "...quietly" test ! -s "$T/out" -a ! -s "$T/err"
check "...having queued the registration of /usr/src/linux-\$KV_FULL" \
	test "$(last "kind, json_extract(arguments, '\$.source'), origin")" = \
	"kernel|$R/usr/src/linux-6.6.30-gentoo|portage: sys-kernel/gentoo-sources-6.6.30"
postinst sys-kernel gentoo-sources 6.6.31 6.6.31-r1 > /dev/null 2>&1
check "without KV_FULL the tree is derived from PN, PV and the revision" \
	test "$(last "json_extract(arguments, '\$.source')")" = "$R/usr/src/linux-6.6.31-gentoo-r1"
postinst sys-kernel vanilla-sources 6.7 6.7 > /dev/null 2>&1
check "...vanilla-sources have no suffix" \
	test "$(last "json_extract(arguments, '\$.source')")" = "$R/usr/src/linux-6.7"

n=$(jobs_now)
cat > "$T/recorder" <<EOS
#!/bin/sh
echo "\$@" >> "$T/called"
EOS
chmod +x "$T/recorder"
# (its time is measured by make bench, not asserted here)
ELIVEPATCH_BIN=$T/recorder phase_env dev-libs openssl 3.1.4 3.1.4 bash --posix -u -c '
	. "$0"
	post_pkg_postinst' "$hooks/portage-bashrc" > /dev/null 2> "$T/err"
check "any other package: nothing queued" test "$(jobs_now)" = "$n"
check "...elivepatch not even started" test ! -e "$T/called"
check "...quietly" test ! -s "$T/err"
phase_env sys-kernel git-sources 6.8 6.8 bash --posix -u -c '. "$0"; post_pkg_postinst' \
	"$hooks/portage-bashrc" > /dev/null 2> "$T/err"
check "a missing kernel tree: return 0" test $? -eq 0
check "...one line saying so" test "$(cat "$T/err")" = \
	"elivepatch: sys-kernel/git-sources-6.8: no kernel tree $R/usr/src/linux-6.8-git; nothing queued"
check "...nothing queued" test "$(jobs_now)" = "$n"
printf 'bogus line\n' > "$T/bad.conf"
ELIVEPATCH_CONFIG=$T/bad.conf postinst sys-kernel gentoo-sources 6.6.30 6.6.30 6.6.30-gentoo > /dev/null 2> "$T/err"
check "elivepatch failing (a bad configuration): return 0" test $? -eq 0
check "...one line with elivepatch's reason" test "$(cat "$T/err")" = \
	"elivepatch: sys-kernel/gentoo-sources-6.6.30: nothing queued: $T/bad.conf:1: expected 'key = value', got 'bogus line'"
phase_env sys-kernel gentoo-sources 6.6.30 6.6.30 bash --posix -u -c '
	post_pkg_postinst() { echo mine; }
	. "$0"; . "$0"; post_pkg_postinst' "$hooks/portage-bashrc" > "$T/out" 2>&1
check "a post_pkg_postinst of the user's own bashrc is left alone" test "$(cat "$T/out")" = mine
phase_env sys-kernel gentoo-sources 6.6.30 6.6.30 bash --posix -u -c '
	. "$0"; . "$0"; type post_pkg_postinst | grep -c elivepatch_post_pkg_postinst' \
	"$hooks/portage-bashrc" > "$T/out" 2>&1
check "sourcing it again (every phase does) defines the hook once" test "$(cat "$T/out")" = 1

# ---- installkernel: VERSION IMAGE ----
for sh in "sh -u" "bash --posix -u"; do
	q "DELETE FROM jobs"
	$sh "$hooks/kernel-postinst.d/elivepatch" 6.6.30-gentoo "$R/boot/vmlinuz-6.6.30-gentoo" > "$T/out" 2>&1
	check "installkernel hook ($sh): exit 0, quiet" test $? -eq 0 -a ! -s "$T/out"
	check "...queued the release with its image" \
		test "$(last "kind, json_extract(arguments, '\$.release'), json_extract(arguments, '\$.image'), origin")" = \
		"kernel|6.6.30-gentoo|$R/boot/vmlinuz-6.6.30-gentoo|installkernel 6.6.30-gentoo"
	$sh "$hooks/kernel-postinst.d/elivepatch" > "$T/out" 2>&1
	check "...without arguments: exit 0" test $? -eq 0
	check "...one line" test "$(cat "$T/out")" = "elivepatch: installkernel hook: no kernel version given; nothing queued"
	$sh "$hooks/kernel-postinst.d/elivepatch" 6.9 "$R/boot/none" > "$T/out" 2>&1
	check "...an image that does not exist is left out" \
		test "$(last "arguments")" = '{"release":"6.9"}'
done
ELIVEPATCH_CONFIG=$T/bad.conf "$hooks/kernel-postinst.d/elivepatch" 6.9 > "$T/out" 2>&1
check "...elivepatch failing: exit 0, one line with its reason" test $? -eq 0 -a \
	"$(cat "$T/out")" = "elivepatch: installkernel hook: kernel 6.9: nothing queued: $T/bad.conf:1: expected 'key = value', got 'bogus line'"

# ---- kernel-install: add VERSION ENTRY-DIR IMAGE [INITRD...] | remove VERSION ENTRY-DIR ----
for sh in "sh -u" "bash --posix -u"; do
	q "DELETE FROM jobs"
	$sh "$hooks/install.d/90-elivepatch.install" add 6.6.30-gentoo /boot/efi/abc/6.6.30-gentoo \
		"$R/boot/vmlinuz-6.6.30-gentoo" /boot/initrd > "$T/out" 2>&1
	check "kernel-install add ($sh): exit 0, quiet" test $? -eq 0 -a ! -s "$T/out"
	check "...queued the release with its image" \
		test "$(last "json_extract(arguments, '\$.release'), json_extract(arguments, '\$.image'), origin")" = \
		"6.6.30-gentoo|$R/boot/vmlinuz-6.6.30-gentoo|kernel-install 6.6.30-gentoo"
	$sh "$hooks/install.d/90-elivepatch.install" remove 6.6.30-gentoo /boot/efi/abc/6.6.30-gentoo > "$T/out" 2>&1
	check "...remove: exit 0, quiet, nothing queued" test $? -eq 0 -a ! -s "$T/out" -a "$(jobs_now)" = 1
	$sh "$hooks/install.d/90-elivepatch.install" > "$T/out" 2>&1
	check "...no arguments: exit 0, one line" test $? -eq 0 -a "$(wc -l < "$T/out")" = 1
	$sh "$hooks/install.d/90-elivepatch.install" add > "$T/out" 2>&1
	check "...add without a version: exit 0, one line" test $? -eq 0 -a \
		"$(cat "$T/out")" = "elivepatch: kernel-install plugin: no kernel version given; nothing queued"
done

# ---- repo.postsync.d: NAME SYNC-URI LOCATION ----
mkdir -p "$R/var/db/repos/ours" "$R/var/db/repos/gentoo"
printf 'patch-overlay = ours\n' > "$T/elivepatch.conf"
for sh in "sh -u" "bash --posix -u"; do
	q "DELETE FROM jobs"
	ELIVEPATCH_CONFIG=$T/elivepatch.conf $sh "$hooks/repo.postsync.d/elivepatch" gentoo \
		rsync://rsync.gentoo.org/gentoo-portage "$R/var/db/repos/gentoo" > "$T/out" 2>&1
	check "post-sync of another repository ($sh): exit 0, quiet, nothing queued" \
		test $? -eq 0 -a ! -s "$T/out" -a "$(jobs_now)" = 0
	ELIVEPATCH_CONFIG=$T/elivepatch.conf $sh "$hooks/repo.postsync.d/elivepatch" ours \
		https://example.invalid/ours.git "$R/var/db/repos/ours" > "$T/out" 2>&1
	check "...of the patch-overlay: exit 0, quiet" test $? -eq 0 -a ! -s "$T/out"
	check "...queued its import" \
		test "$(last "kind, arguments, origin")" = "overlay|{\"overlay\":\"ours\",\"location\":\"$R/var/db/repos/ours\"}|sync of ours"
	$sh "$hooks/repo.postsync.d/elivepatch" ours > "$T/out" 2>&1
	check "...missing arguments: exit 0, one line" test $? -eq 0 -a "$(wc -l < "$T/out")" = 1
done
ELIVEPATCH_CONFIG=$T/elivepatch.conf "$hooks/repo.postsync.d/elivepatch" ours x "$R/var/db/repos/gone" > "$T/out" 2>&1
check "...a location that does not exist: exit 0, one line with the reason" test $? -eq 0 -a \
	"$(cat "$T/out")" = "elivepatch: post-sync hook: ours: nothing queued: overlay location '$R/var/db/repos/gone': No such file or directory"

# ---- real Portage: emerge and emaint sync ----
# portage.md: the snapshot runs from its source tree; it stores symlinks as
# files naming their target, so a copy with the links restored is used
# the shared folder beside the project (../shared), wherever the project is checked out
portage_src=${ELP_PORTAGE_SRC:-$hooks/../../shared/vendor/portage}
[ -d "$portage_src" ] || [ -n "${ELP_PORTAGE_SRC:-}" ] || portage_src=/work/shared/vendor/portage
PORTAGE=
if [ -n "${ELP_TEST_NO_PORTAGE:-}" ]; then
	skip "real emerge and emaint sync: ELP_TEST_NO_PORTAGE is set (e.g. inside an ebuild's src_test)"
	t_done
elif [ -f "$portage_src/.portage_not_installed" ] && command -v python3 > /dev/null; then
	cp -r "$portage_src" "$T/portage" && chmod -R u+w "$T/portage"
	find "$T/portage/bin" -type f -size -200c | while read -r f; do
		target=$(cat "$f")
		case $target in *[[:space:]]* | "") continue ;; esac
		[ -e "$(dirname "$f")/$target" ] && ln -sfn "$target" "$f"
	done
	PORTAGE=$T/portage
	PYTHONPATH=$PORTAGE/lib
	PATH=$PORTAGE/bin:$PATH
	export PYTHONPATH PATH
elif ! command -v emerge > /dev/null || ! command -v emaint > /dev/null; then
	skip "real emerge and emaint sync: no Portage (neither $portage_src nor emerge on PATH)"
	t_done
fi
if ! command -v git > /dev/null; then
	skip "real emerge and emaint sync: git is missing (the overlay is a git repository)"
	t_done
fi

repo=$R/var/db/repos/test
mkdir -p "$repo/profiles/default" "$repo/metadata" "$repo/sys-kernel/gentoo-sources" \
	"$repo/app-misc/hello" "$R/var/tmp" "$R/distfiles" "$R/packages" "$R/etc/portage/repo.postsync.d"
echo test > "$repo/profiles/repo_name"
echo amd64 > "$repo/profiles/arch.list"
printf 'sys-kernel\napp-misc\n' > "$repo/profiles/categories"
echo 8 > "$repo/profiles/default/eapi"
printf 'ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\nCHOST="x86_64-pc-linux-gnu"\n' > "$repo/profiles/default/make.defaults"
printf 'masters =\nthin-manifests = true\n' > "$repo/metadata/layout.conf"
ln -sfn "$repo/profiles/default" "$R/etc/portage/make.profile"
cat > "$R/etc/portage/make.conf" <<EOS
FEATURES="-sandbox -usersandbox -userpriv -usersync -userfetch -news -ipc-sandbox -network-sandbox -pid-sandbox -mount-sandbox"
DISTDIR="$R/distfiles"
PORTAGE_TMPDIR="$R/var/tmp"
PKGDIR="$R/packages"
CLEAN_DELAY=0
EMERGE_WARNING_DELAY=0
EOS
# a stand-in for sys-kernel/gentoo-sources: KV_FULL as kernel-2.eclass sets it
cat > "$repo/sys-kernel/gentoo-sources/gentoo-sources-6.10.1.ebuild" <<'EOS'
EAPI=8
DESCRIPTION="stand-in kernel sources"
HOMEPAGE="https://example.invalid"
LICENSE="GPL-2"
SLOT="${PVR}"
KEYWORDS="amd64"
S="${WORKDIR}"
KV_FULL="${PV}-gentoo"
src_install() {
	dodir "/usr/src/linux-${KV_FULL}"
	echo "VERSION = 6" > "${ED}/usr/src/linux-${KV_FULL}/Makefile" || die
}
EOS
cat > "$repo/app-misc/hello/hello-1.ebuild" <<'EOS'
EAPI=8
DESCRIPTION="any other package"
HOMEPAGE="https://example.invalid"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="amd64"
S="${WORKDIR}"
src_install() {
	dodir /usr/share/hello
}
EOS
echo "source $hooks/portage-bashrc" > "$R/etc/portage/bashrc"
ln -sfn "$hooks/repo.postsync.d/elivepatch" "$R/etc/portage/repo.postsync.d/elivepatch"

# the patch overlay, synced from a local git repository
up=$T/upstream
mkdir -p "$up/profiles" "$up/metadata" "$up/livepatches/cmdline"
echo ours > "$up/profiles/repo_name"
printf 'masters = test\nthin-manifests = true\n' > "$up/metadata/layout.conf"
cp "$patches/cmdline.patch" "$up/livepatches/cmdline/"
printf 'summary = mark /proc/cmdline\ncve = CVE-2099-1001\n' > "$up/livepatches/cmdline/fix.conf"
if ! { git -C "$up" init -q && git -C "$up" add -A &&
	git -C "$up" -c user.name=t -c user.email=t@example.invalid commit -qm overlay; }; then
	bail "cannot make the overlay's git repository"
fi

PORTAGE_OVERRIDE_EPREFIX=$R
PORTAGE_USERNAME=$(id -un)
PORTAGE_GRPNAME=$(id -gn)
PORTAGE_REPOSITORIES="[DEFAULT]
main-repo = test
[test]
location = $repo
[ours]
location = $R/var/db/repos/portage-ours
sync-type = git
sync-uri = file://$up
auto-sync = yes
"
ELIVEPATCH_CONFIG=$T/elivepatch.conf
export PORTAGE_OVERRIDE_EPREFIX PORTAGE_USERNAME PORTAGE_GRPNAME PORTAGE_REPOSITORIES ELIVEPATCH_CONFIG
q "DELETE FROM jobs"

if ! emerge --version > "$T/emerge.out" 2>&1; then
	skip "real emerge and emaint sync: Portage does not run here: $(tail -n 1 "$T/emerge.out")"
	t_done
fi
emerge --oneshot --quiet sys-kernel/gentoo-sources app-misc/hello > "$T/emerge.out" 2>&1
status=$?
check "a real emerge of a kernel sources package and another succeeds" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/# /' "$T/emerge.out"
check "...the sources' tree is installed" test -f "$R/usr/src/linux-6.10.1-gentoo/Makefile"
check "...its post_pkg_postinst queued exactly its registration" \
	test "$(q "SELECT kind, json_extract(arguments, '\$.source'), origin FROM jobs")" = \
	"kernel|$R/usr/src/linux-6.10.1-gentoo|portage: sys-kernel/gentoo-sources-6.10.1"
check "...and emerge printed nothing of ours" test "$(grep -c elivepatch "$T/emerge.out")" = 0

emaint sync -r ours > "$T/sync.out" 2>&1
status=$?
check "a real emaint sync of the git overlay succeeds" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/# /' "$T/sync.out"
check "...its post-sync hook queued the overlay's import" \
	test "$(q "SELECT kind, arguments, origin FROM jobs WHERE kind = 'overlay'")" = \
	"overlay|{\"overlay\":\"ours\",\"location\":\"$R/var/db/repos/portage-ours\"}|sync of ours"
"$ELP" queue run > /dev/null 2>&1
check "...which imports its fix livepatches/cmdline (elivepatch-overlay(5))" \
	test "$(q "SELECT name, origin FROM patches")" = "ours:cmdline|$R/var/db/repos/portage-ours/livepatches/cmdline/cmdline.patch"
check "...from the commit Portage synced" \
	test "$(q "SELECT commit_id FROM overlay_patches")" = "$(git -C "$up" rev-parse HEAD)"

t_done
