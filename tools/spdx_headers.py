#!/usr/bin/env python3
"""Every source file of the repository starts with its licence identifier,
`SPDX-License-Identifier: Apache-2.0` (LICENSE), as a comment in the file's
own syntax (after a #! line).

    tools/spdx_headers.py --check   # list files without one; exit 1 if any
    tools/spdx_headers.py --add     # add it where it is missing
"""
import subprocess
import sys
from pathlib import Path

TAG = "SPDX-License-Identifier: Apache-2.0"
ROOT = Path(__file__).resolve().parent.parent
SUFFIX_COMMENT = {".cpp": "//", ".h": "//", ".hpp": "//", ".cu": "//", ".cuh": "//", ".c": "/*",
                  ".py": "#", ".sh": "#", ".cmake": "#"}


def sources():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split("\n")
    for f in files:
        p = Path(f)
        if not f or f.startswith("tests/data/files/") or "/corpus/" in f:
            continue
        if p.name == "CMakeLists.txt" or f == ".ci/run":
            yield p, "#"
        elif p.suffix in SUFFIX_COMMENT:
            yield p, SUFFIX_COMMENT[p.suffix]


def line_for(comment):
    return f"/* {TAG} */" if comment == "/*" else f"{comment} {TAG}"


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("--check", "--add"):
        sys.exit(__doc__)
    missing = []
    for rel, comment in sources():
        path = ROOT / rel
        text = path.read_text(encoding="utf-8")
        if TAG in "\n".join(text.split("\n")[:3]):
            continue
        missing.append(str(rel))
        if sys.argv[1] == "--add":
            lines = text.split("\n")
            at = 1 if lines and lines[0].startswith("#!") else 0
            lines.insert(at, line_for(comment))
            path.write_text("\n".join(lines), encoding="utf-8")
    if sys.argv[1] == "--check" and missing:
        print("no SPDX licence identifier in its first lines:\n  " + "\n  ".join(missing))
        sys.exit(1)
    print(f"{len(missing)} file(s) {'given the identifier' if sys.argv[1] == '--add' else 'without it'}")


if __name__ == "__main__":
    main()
