#!/usr/bin/python3
"""Independent computation of AlmaLinux findings with real librpm (python3-rpm).

Usage: alma_findings.py FEED_DIR RELEASE INVENTORY_TSV
INVENTORY_TSV lines: name<TAB>[epoch:]version-release
Prints one line per finding: package<TAB>advisory<TAB>fixed, sorted.
Every OSV record (not withdrawn) whose affected package is in AlmaLinux:RELEASE with an
ECOSYSTEM range counts; installed is affected when introduced <= installed < fixed,
compared with rpm.labelCompare.
"""
import json, os, sys
import rpm

def evr(s):
    epoch = "0"
    if ":" in s:
        epoch, s = s.split(":", 1)
    version, _, release = s.rpartition("-")
    if not version:
        version, release = release, ""
    return (epoch or "0", version, release)

feed, release, inv = sys.argv[1], sys.argv[2], sys.argv[3]
installed = {}
for line in open(inv):
    name, ver = line.rstrip("\n").split("\t")[:2]
    installed.setdefault(name, []).append(ver)

out = set()
for root, _, files in os.walk(feed):
    for f in files:
        if not f.endswith(".json"):
            continue
        rec = json.load(open(os.path.join(root, f)))
        if rec.get("withdrawn"):
            continue
        for aff in rec.get("affected", []):
            pkg = aff.get("package", {})
            if pkg.get("ecosystem") != "AlmaLinux:" + release:
                continue
            for ver in installed.get(pkg.get("name"), []):
                for rng in aff.get("ranges", []):
                    if rng.get("type") != "ECOSYSTEM":
                        continue
                    intro, fixed = None, None
                    for ev in rng.get("events", []):
                        if "introduced" in ev and ev["introduced"] != "0":
                            intro = ev["introduced"]
                        if "fixed" in ev:
                            fixed = ev["fixed"]
                    if fixed is None:
                        continue
                    if intro is not None and rpm.labelCompare(evr(ver), evr(intro)) < 0:
                        continue
                    if rpm.labelCompare(evr(ver), evr(fixed)) < 0:
                        out.add((pkg["name"], rec["id"], fixed))
for t in sorted(out):
    print("\t".join(t))
