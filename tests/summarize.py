#!/usr/bin/env python3
"""Count TAP results in meson's testlog.json: prints "passed failed".

A test program that failed without a single 'not ok' line (a crash, a
sanitizer report, a bad plan) counts as one more failure."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        notok = len(re.findall(r"^not ok \d+", out, re.M))
        passed += ok
        failed += notok
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and notok == 0:
            failed += 1
            print(f"test program '{t.get('name')}' failed: {t.get('result')}", file=sys.stderr)
print(passed, failed)
