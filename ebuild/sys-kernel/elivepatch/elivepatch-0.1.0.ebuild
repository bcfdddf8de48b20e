# Copyright 2026 Gentoo Authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit bash-completion-r1 linux-info systemd toolchain-funcs

DESCRIPTION="Build, apply and keep a record of Linux kernel livepatches, offline"
HOMEPAGE="https://github.com/gentoo/elivepatch"

if [[ ${PV} == 9999 ]]; then
	inherit git-r3
	EGIT_REPO_URI="https://github.com/gentoo/elivepatch.git"
else
	SRC_URI="https://github.com/gentoo/elivepatch/archive/v${PV}.tar.gz -> ${P}.tar.gz"
	KEYWORDS="~amd64"
fi

LICENSE="GPL-2+"
SLOT="0"
IUSE="qemu sandbox test"
RESTRICT="!test? ( test )"

DEPEND="
	>=app-arch/libarchive-3.6:=[zstd]
	>=app-arch/xz-utils-5.4
	dev-db/sqlite:3
	dev-libs/libgit2:=
	dev-libs/openssl:=
	dev-libs/popt
	sys-apps/kmod
	virtual/libelf:=
"
# building a livepatch compiles the kernel's objects: the kernel's own
# build tools; `elivepatch verify` boots the kernel in qemu; `build
# --builder ssh://...` runs the system's OpenSSH client; gpgv checks
# the commits of overlays added with a signing key; `build --sandbox` and
# `sandbox = yes` run the builds' make steps under bubblewrap
RDEPEND="
	${DEPEND}
	virtual/openssh
	app-alternatives/bc
	app-alternatives/lex
	app-alternatives/yacc
	dev-util/pahole
	sys-devel/gcc
	sys-devel/make
	app-crypt/gnupg
	sandbox? ( sys-apps/bubblewrap )
	qemu? (
		app-alternatives/cpio
		app-emulation/qemu
		sys-apps/busybox[static]
	)
"
BDEPEND="
	virtual/pkgconfig
	test? (
		app-arch/zstd
		app-crypt/gnupg
		dev-db/sqlite:3
		dev-util/cmocka
		dev-vcs/git
		net-misc/openssh
		sys-apps/bubblewrap
	)
"

# Warnings, not errors: livepatches are built for catalogued kernels, which
# need not be the one running here; this checks the kernel they would load
# into.  One of DYNAMIC_FTRACE_WITH_REGS and _ARGS is needed (pkg_setup).
CONFIG_CHECK="~LIVEPATCH ~KALLSYMS_ALL ~MODULES"
ERROR_LIVEPATCH="CONFIG_LIVEPATCH is needed to load livepatches"
ERROR_KALLSYMS_ALL="CONFIG_KALLSYMS_ALL is needed to resolve the symbols livepatches use"
ERROR_MODULES="CONFIG_MODULES is needed: livepatches are kernel modules"

pkg_setup() {
	linux-info_pkg_setup
	if linux_config_exists &&
		! linux_chkconfig_present DYNAMIC_FTRACE_WITH_REGS &&
		! linux_chkconfig_present DYNAMIC_FTRACE_WITH_ARGS; then
		ewarn "Neither CONFIG_DYNAMIC_FTRACE_WITH_REGS nor CONFIG_DYNAMIC_FTRACE_WITH_ARGS"
		ewarn "is set: livepatches cannot redirect functions in this kernel."
	fi
}

# The install paths are compiled in: give them to every make.
elivepatch_make() {
	emake \
		CC="$(tc-getCC)" \
		PKG_CONFIG="$(tc-getPKG_CONFIG)" \
		PREFIX="${EPREFIX}/usr" \
		SYSCONFDIR="${EPREFIX}/etc" \
		KERNELHOOKDIR="${EPREFIX}/usr/lib/kernel" \
		SYSTEMDUNITDIR="$(systemd_get_systemunitdir)" \
		BASHCOMPDIR="$(get_bashcompdir)" \
		"$@"
}

src_compile() {
	elivepatch_make all
}

src_test() {
	elivepatch_make san
	# no emerge inside the emerge: the hooks' Portage test is skipped
	local -x ELP_TEST_NO_PORTAGE=1
	# the sanitizer build runs under the sandbox's LD_PRELOAD
	local -x ASAN_OPTIONS=verify_asan_link_order=0
	ELP_TESTS=unit sh tests/run.sh || die "unit tests failed"
	ELP_TESTS=cli sh tests/run.sh || die "command-line tests failed"
}

src_install() {
	elivepatch_make DESTDIR="${D}" install
	dodoc README.md
	keepdir /var/lib/elivepatch /var/cache/elivepatch
}

pkg_postinst() {
	elog "To queue the registration of new kernel sources and the rebuild of your"
	elog "livepatches when a sys-kernel/*-sources package is merged, add this line"
	elog "to ${EROOT}/etc/portage/bashrc:"
	elog "  source ${EPREFIX}/usr/share/elivepatch/hooks/portage-bashrc"
	elog "The queue is run by elivepatch.timer (systemd) or the elivepatch service"
	elog "(OpenRC), or by hand with: elivepatch queue run"
}
