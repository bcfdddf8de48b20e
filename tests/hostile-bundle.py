#!/usr/bin/env python3
# Write hostile (or, with "valid", well-formed) bundles as plain tars, DIR/KIND.tar, for the
# remote-build tests; compress them with `zstd`. Usage: hostile-bundle.py result|request DIR KIND...
#   valid       a well-formed bundle (MANIFEST with every entry's sha256)
#   dotdot      an entry named ../escape          absolute   an entry named /tmp/...escape
#   symlink     a symbolic link entry             hardlink   a hard link entry
#   device      a character device entry          fifo       a FIFO entry
#   many        more entries than a bundle may hold
#   badsha      a MANIFEST sha256 that does not match its entry
#   unlisted    an entry the MANIFEST does not list
#   nomanifest  no MANIFEST at all
#   wrongmodule (result) module.ko is not the module the record's sha256 names
#   patchdotdot, sourcedotdot, sourceslash, sourcedash (request) the request record
#               names a patch or a source ../escape, a/b or -x: names that become paths
import hashlib
import io
import sys
import tarfile


def bundle(kind, side):

    if side == "result":
        files = {
            "result": b"format 1\nstatus succeeded\nmodule elp_cmdline\nsha256 %s\nhost evil\n",
            "module.ko": b"\x7fELF not really a module\n",
        }
        sha = hashlib.sha256(files["module.ko"]).hexdigest().encode()
        if kind == "wrongmodule":
            sha = b"0" * 64
        files["result"] = files["result"] % sha
    else:
        files = {
            "request": b"format 1\nrelease 6.1.0-57-amd64\nmodule elp_cmdline\npatch cmdline\n",
            "config": b"CONFIG_LIVEPATCH=y\n",
            "symbols": b"ffffffff81000000 T _text\n",
            "patches/000/cmdline.patch": b"--- a/x.c\n+++ b/x.c\n",
        }
        names = {
            "patchdotdot": (b"patch cmdline\n", b"patch ../escape\n", None),
            "sourcedotdot": (None, b"source ../escape\n", "source/escape"),
            "sourceslash": (None, b"source a/b\n", "source/a/b"),
            "sourcedash": (None, b"source -x\n", "source/-x"),
        }
        if kind in names:
            old, new, entry = names[kind]
            files["request"] = (files["request"].replace(old, new) if old
                                else files["request"] + new)
            if entry:
                files[entry] = b"a kernel source, it says\n"
    if kind == "many":
        for i in range(300):
            files["pad/%03d" % i] = b"x"


    def manifest(entries):
        lines = []
        for name in sorted(entries):
            data = entries[name]
            digest = hashlib.sha256(data).hexdigest()
            if kind == "badsha" and name == sorted(entries)[0]:
                digest = "f" * 64
            lines.append("%s %d %s\n" % (digest, len(data), name))
        return "".join(lines).encode()


    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:

        def add(name, data=b"", type_=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type = type_
            info.linkname = link
            info.size = len(data) if type_ == tarfile.REGTYPE else 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)

        listed = dict(files)
        if kind != "nomanifest":
            add("MANIFEST", manifest(listed))
        for name in sorted(files):
            add(name, files[name])
        if kind == "unlisted":
            add("extra", b"not in the manifest")
        elif kind == "dotdot":
            add("../escape", b"escaped")
        elif kind == "absolute":
            add("/tmp/elp-hostile-escape", b"escaped")
        elif kind == "symlink":
            add("link", type_=tarfile.SYMTYPE, link="/etc")
        elif kind == "hardlink":
            add("hard", type_=tarfile.LNKTYPE, link="/etc/passwd")
        elif kind == "device":
            add("dev", type_=tarfile.CHRTYPE)
        elif kind == "fifo":
            add("fifo", type_=tarfile.FIFOTYPE)
    return out.getvalue()


side, outdir = sys.argv[1], sys.argv[2]
for k in sys.argv[3:]:
    with open("%s/%s.tar" % (outdir, k), "wb") as f:
        f.write(bundle(k, side))
