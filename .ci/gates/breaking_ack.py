#!/usr/bin/env python3
"""A breaking change of the OpenAPI document must be acknowledged, not only announced.

A new major version (or a new minor one while the major is 0, semver's rule for 0.x)
allows breaking changes, but a version bump alone must not switch the breaking-change
gate off: openapi/BREAKING-CHANGES.md needs a section for the new version (a heading
`## <version>`, e.g. `## 0.2.0`) that says what breaks, in at least one non-empty line.

Usage: breaking_ack.py OLD_VERSION NEW_VERSION ACK_FILE
Exit 0: the change is acknowledged; 1: it is not (the reason on stderr); 2: the
version did not move in a way that announces a breaking change at all.
"""

import re
import sys


def announces(old: str, new: str) -> bool:
    o, n = ([int(x) for x in v.split("-")[0].split(".")[:2]] for v in (old, new))
    return n[0] > o[0] or (n[0] == o[0] == 0 and n[1] > o[1])


def section(text: str, version: str) -> str | None:
    """The body of the `## <version>` section, or None when there is no such heading."""
    lines = text.splitlines()
    heading = re.compile(rf"^##\s+v?{re.escape(version)}\s*(\(.*\))?\s*$")
    for i, line in enumerate(lines):
        if heading.match(line.strip()):
            body = []
            for rest in lines[i + 1:]:
                if re.match(r"^#{1,2}\s", rest):
                    break
                body.append(rest)
            return "\n".join(body)
    return None


def main() -> int:
    old, new, path = sys.argv[1:4]
    if not announces(old, new):
        print(f"version {old} -> {new} does not announce a breaking change", file=sys.stderr)
        return 2
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        print(f"{path} is missing: a breaking change in {new} needs a `## {new}` section there saying what breaks",
              file=sys.stderr)
        return 1
    body = section(text, new)
    if body is None:
        print(f"{path} has no `## {new}` section: say there what breaks in {new}", file=sys.stderr)
        return 1
    if not body.strip():
        print(f"the `## {new}` section of {path} is empty: say there what breaks", file=sys.stderr)
        return 1
    print(f"the breaking changes of {new} are acknowledged in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
