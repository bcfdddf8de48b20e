#!/bin/sh
# Packaging: the ebuilds parse and carry what they must, `make install`
# puts every file where its tool reads it (naming the installed binary),
# the shell files are shellcheck-clean, the new man pages lint clean, the
# systemd units verify and the bash completion completes from a catalogue.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
eb=$top/ebuild/sys-kernel/elivepatch

# ---- ebuilds ----
for f in "$eb/elivepatch-9999.ebuild" "$eb/elivepatch-0.1.0.ebuild"; do
	check "bash -n ${f##*/}" bash -n "$f"
done
check "the versioned ebuild is the live one (git-r3 only for 9999)" cmp -s "$eb/elivepatch-9999.ebuild" "$eb/elivepatch-0.1.0.ebuild"
check "EAPI 8" grep -qx 'EAPI=8' "$eb/elivepatch-9999.ebuild"
check "linux-info CONFIG_CHECK: LIVEPATCH KALLSYMS_ALL MODULES" \
	grep -qx 'CONFIG_CHECK="~LIVEPATCH ~KALLSYMS_ALL ~MODULES"' "$eb/elivepatch-9999.ebuild"
check "...and DYNAMIC_FTRACE_WITH_REGS or _ARGS" sh -c \
	"grep -q 'linux_chkconfig_present DYNAMIC_FTRACE_WITH_REGS' '$eb/elivepatch-9999.ebuild' && grep -q 'linux_chkconfig_present DYNAMIC_FTRACE_WITH_ARGS' '$eb/elivepatch-9999.ebuild'"
# the dependencies, read by bash from the ebuild itself
deps=$(bash -c 'inherit() { :; }; . "$1"; echo "$DEPEND $RDEPEND"' sh "$eb/elivepatch-9999.ebuild")
for atom in dev-libs/libgit2 app-arch/libarchive app-arch/xz-utils dev-db/sqlite sys-apps/kmod dev-libs/popt virtual/libelf dev-libs/openssl; do
	case " $deps " in
	*[[:space:]]"$atom"[[:space:]:]* | *[[:space:]]">=$atom-"[0-9]*) ok "DEPEND and RDEPEND carry $atom" ;;
	*) not_ok "DEPEND and RDEPEND carry $atom" ;;
	esac
done
check "IUSE qemu, for verify" grep -q '^IUSE=".*qemu' "$eb/elivepatch-9999.ebuild"
check "pkg_postinst tells the bashrc line" \
	grep -q 'elog "  source ${EPREFIX}/usr/share/elivepatch/hooks/portage-bashrc"' "$eb/elivepatch-9999.ebuild"
if command -v xmllint > /dev/null; then
	check "metadata.xml is well-formed" xmllint --noout "$eb/metadata.xml"
else
	skip "metadata.xml: xmllint is missing"
fi

# ---- make install ----
# with the prefix the tree was built for (DATADIR is compiled in: another
# PREFIX would rebuild the tree's binary under the other tests)
make -C "$top" --no-print-directory install DESTDIR="$T/dest" > "$T/make.out" 2>&1
check "make install DESTDIR" test $? -eq 0
(cd "$T/dest" && find . ! -type d | sort) > "$T/files"
for f in /usr/local/bin/elivepatch /etc/elivepatch.conf /usr/local/share/man/man1/elivepatch-queue.1 \
	/usr/local/share/man/man5/elivepatch.conf.5 /usr/local/share/elivepatch/include/elivepatch.h \
	/usr/local/share/elivepatch/schema/001-initial.sql /usr/local/share/elivepatch/hooks/portage-bashrc \
	/etc/portage/repo.postsync.d/elivepatch /usr/lib/kernel/postinst.d/elivepatch \
	/usr/lib/kernel/install.d/90-elivepatch.install /usr/local/lib/systemd/system/elivepatch.service \
	/usr/local/lib/systemd/system/elivepatch.timer /etc/init.d/elivepatch /etc/conf.d/elivepatch \
	/usr/local/share/bash-completion/completions/elivepatch; do
	check "installs $f" grep -qx ".$f" "$T/files"
done
for f in /etc/portage/repo.postsync.d/elivepatch /usr/lib/kernel/postinst.d/elivepatch \
	/usr/lib/kernel/install.d/90-elivepatch.install /etc/init.d/elivepatch; do
	check "...$f is executable" test -x "$T/dest$f"
done
check "...the configuration is the commented default" cmp -s "$top/data/elivepatch.conf" "$T/dest/etc/elivepatch.conf"
check "...the hooks call the installed binary" \
	grep -q 'bin=${ELIVEPATCH_BIN:-/usr/local/bin/elivepatch}' "$T/dest/usr/lib/kernel/postinst.d/elivepatch"
check "...the bashrc snippet names its own path" \
	grep -q 'source /usr/local/share/elivepatch/hooks/portage-bashrc' "$T/dest/usr/local/share/elivepatch/hooks/portage-bashrc"
echo "catalogue = /srv/mine.db" > "$T/dest/etc/elivepatch.conf"
make -C "$top" --no-print-directory install DESTDIR="$T/dest" > /dev/null 2>&1
check "...and an existing configuration is kept" grep -qx "catalogue = /srv/mine.db" "$T/dest/etc/elivepatch.conf"
make -C "$top" --no-print-directory install DESTDIR="$T/opt" BINDIR=/opt/elp/bin > /dev/null 2>&1
check "with BINDIR=/opt/elp/bin the hooks call /opt/elp/bin/elivepatch" sh -c \
	"grep -q 'bin=\${ELIVEPATCH_BIN:-/opt/elp/bin/elivepatch}' '$T/opt/usr/lib/kernel/postinst.d/elivepatch' &&
	grep -q 'bin=\${ELIVEPATCH_BIN:-/opt/elp/bin/elivepatch}' '$T/opt/etc/portage/repo.postsync.d/elivepatch' &&
	grep -q 'bin=\${ELIVEPATCH_BIN:-/opt/elp/bin/elivepatch}' '$T/opt/usr/lib/kernel/install.d/90-elivepatch.install' &&
	grep -q 'bin=\${ELIVEPATCH_BIN:-/opt/elp/bin/elivepatch}' '$T/opt/usr/local/share/elivepatch/hooks/portage-bashrc'"
check "...and so do the units" sh -c \
	"grep -qx 'ExecStart=/opt/elp/bin/elivepatch queue run --wait' '$T/opt/usr/local/lib/systemd/system/elivepatch.service' &&
	grep -qx 'command=/opt/elp/bin/elivepatch' '$T/opt/etc/init.d/elivepatch'"

# ---- shell files ----
if command -v shellcheck > /dev/null; then
	for f in hooks/portage-bashrc hooks/repo.postsync.d/elivepatch hooks/kernel-postinst.d/elivepatch \
		hooks/install.d/90-elivepatch.install contrib/bash-completion/elivepatch \
		contrib/openrc/elivepatch.initd contrib/openrc/elivepatch.confd; do
		check "shellcheck $f" shellcheck "$top/$f"
	done
	check "shellcheck the ebuild" shellcheck -s bash -e SC2034,SC2154,SC2155 "$eb/elivepatch-9999.ebuild"
else
	skip "shellcheck is missing"
fi

# ---- man pages ----
for f in man/elivepatch.1 man/elivepatch-queue.1 man/elivepatch-builder.1 man/elivepatch.conf.5; do
	if command -v mandoc > /dev/null; then
		mandoc -Tlint "$top/$f" > "$T/lint" 2>&1
		check "mandoc -Tlint $f: no message" test ! -s "$T/lint"
	else
		skip "mandoc -Tlint $f: mandoc is missing"
	fi
	if command -v man > /dev/null; then
		MANWIDTH=80 man --warnings -l "$top/$f" > /dev/null 2> "$T/warn"
		check "man -l $f renders without warnings" test ! -s "$T/warn"
	else
		skip "man -l $f: man is missing"
	fi
done

# ---- systemd units ----
if command -v systemd-analyze > /dev/null; then
	# installed with the binary where it exists, so ExecStart can be checked
	make -C "$top" --no-print-directory install DESTDIR="$T/sd" BINDIR="$top/build" > /dev/null 2>&1
	unitdir=$T/sd/usr/local/lib/systemd/system
	check "systemd-analyze verify the service and the timer" \
		systemd-analyze verify --man=no "$unitdir/elivepatch.service" "$unitdir/elivepatch.timer"
else
	skip "systemd-analyze is missing"
fi

# ---- bash completion ----
if [ -f /usr/share/bash-completion/bash_completion ]; then
	elp kernel add --release 6.6.30-gentoo --name k-one --source "$T/src" --config "$T/config" > /dev/null
	elp patch add "$top/contrib/examples/cmdline.patch" > /dev/null
	sqlite3 "$DB" "INSERT INTO events (time, kind, build_id, kernel_release) VALUES (1, 'build', 42, '6.6.30-gentoo')"
	complete_line() { # WORDS...: what bash would offer for the last word
		bash -c '. /usr/share/bash-completion/bash_completion
			. "$0"
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			_elivepatch
			printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' \
			"$top/contrib/bash-completion/elivepatch" "$@"
	}
	PATH=$(dirname "$ELP"):$PATH
	export PATH
	# the completion runs "elivepatch": the binary under test
	[ "$(basename "$ELP")" = elivepatch ] || bail "the binary under test is not named elivepatch"
	check "commands" test "$(complete_line elivepatch "")" = \
		"apply build builder cve help history kernel overlay patch queue revert sign status toolchain verify "
	check "subcommands" test "$(complete_line elivepatch queue "")" = "add clear list run "
	check "overlay subcommands" test "$(complete_line elivepatch overlay "")" = "add list remove show sync "
	check "builder subcommands" test "$(complete_line elivepatch builder "")" = "prune serve "
	check "builder prune's options" test "$(complete_line elivepatch builder prune --)" = "--cache --help --older-than "
	check "options of a subcommand" test "$(complete_line elivepatch queue run --)" = "--auto-apply --every --help --jobs --no-auto-apply --wait "
	check "global options" test "$(complete_line elivepatch --c)" = "--config "
	check "kernel names from the catalogue (--db honoured)" \
		test "$(complete_line elivepatch --db "$DB" build --kernel "")" = "k-one "
	check "patch names" test "$(complete_line elivepatch --db "$DB" patch show "")" = "cmdline "
	check "build ids" test "$(cd "$T/src/kernel" && complete_line elivepatch --db "$DB" apply "")" = "42 livepatch "
else
	skip "bash completion: bash-completion is not installed"
fi

t_done
