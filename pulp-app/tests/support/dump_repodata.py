"""Dump a createrepo_c repository's primary/filelists/other metadata as
tab-separated lines, so the Rust tests can compare it without an XML parser.

Usage: python3 dump_repodata.py REPO_DIR
Fields are escaped: backslash -> \\, tab -> \t, newline -> \n.
"""
import gzip
import os
import sys
import xml.etree.ElementTree as ET

REPO = "{http://linux.duke.edu/metadata/repo}"
COMMON = "{http://linux.duke.edu/metadata/common}"
RPM = "{http://linux.duke.edu/metadata/rpm}"
FILELISTS = "{http://linux.duke.edu/metadata/filelists}"
OTHER = "{http://linux.duke.edu/metadata/other}"


def esc(value):
    value = "" if value is None else str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def out(*fields):
    sys.stdout.write("\t".join(esc(f) for f in fields) + "\n")


def load(repo, mdtype):
    repomd = ET.parse(os.path.join(repo, "repodata", "repomd.xml")).getroot()
    for data in repomd.findall(REPO + "data"):
        if data.get("type") == mdtype:
            href = data.find(REPO + "location").get("href")
            with gzip.open(os.path.join(repo, href)) as fh:
                return ET.parse(fh).getroot()
    raise SystemExit("no %s in repomd.xml" % mdtype)


def main(repo):
    for pkg in load(repo, "primary").findall(COMMON + "package"):
        pkgid = pkg.find(COMMON + "checksum").text
        ver = pkg.find(COMMON + "version")
        time = pkg.find(COMMON + "time")
        size = pkg.find(COMMON + "size")
        fmt = pkg.find(COMMON + "format")
        rng = fmt.find(RPM + "header-range")
        text = lambda parent, ns, tag: parent.find(ns + tag).text
        out("pkg", pkgid, text(pkg, COMMON, "name"), text(pkg, COMMON, "arch"),
            ver.get("epoch"), ver.get("ver"), ver.get("rel"),
            text(pkg, COMMON, "summary"), text(pkg, COMMON, "description"),
            text(pkg, COMMON, "packager"), text(pkg, COMMON, "url"),
            time.get("build"), size.get("package"), size.get("installed"), size.get("archive"),
            text(fmt, RPM, "license"), text(fmt, RPM, "vendor"), text(fmt, RPM, "group"),
            text(fmt, RPM, "buildhost"), text(fmt, RPM, "sourcerpm"),
            rng.get("start"), rng.get("end"),
            pkg.find(COMMON + "location").get("href"))
        for kind in ("provides", "requires", "conflicts", "obsoletes",
                     "suggests", "enhances", "recommends", "supplements"):
            node = fmt.find(RPM + kind)
            if node is None:
                continue
            for e in node.findall(RPM + "entry"):
                out("dep", pkgid, kind, e.get("name"), e.get("flags"), e.get("epoch"),
                    e.get("ver"), e.get("rel"), e.get("pre") or "0")
        for f in fmt.findall(COMMON + "file"):
            out("pfile", pkgid, f.get("type") or "file", f.text)
    for pkg in load(repo, "filelists").findall(FILELISTS + "package"):
        for f in pkg.findall(FILELISTS + "file"):
            out("file", pkg.get("pkgid"), f.get("type") or "file", f.text)
    for pkg in load(repo, "other").findall(OTHER + "package"):
        for c in pkg.findall(OTHER + "changelog"):
            out("log", pkg.get("pkgid"), c.get("author"), c.get("date"), c.text)


if __name__ == "__main__":
    main(sys.argv[1])
