"""Run pip-audit over the venv; fail on any known vulnerability; say what could not be audited.

pip-audit asks PyPI's JSON API about each installed version. Where that API is
unreachable or does not know a version (this build machine's PyPI mirror
answers no per-version queries), a dependency cannot be audited: that is
printed loudly with the count, and is not a pass. Known vulnerabilities fail.
"""

# ruff: noqa: T201 - a command-line script
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def main() -> int:
    proc = subprocess.run(  # noqa: S603
        [
            str(VENV_BIN / "pip-audit"),
            "--skip-editable",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
        print("pip-audit did not produce a report", file=sys.stderr)
        return 2
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason") and "editable" not in d["skip_reason"]]
    audited = (
        len(deps)
        - len(skipped)
        - sum(1 for d in deps if "editable" in (d.get("skip_reason") or ""))
    )
    for d in vulnerable:
        ids = ", ".join(v["id"] for v in d["vulns"])
        print(f"VULNERABLE {d['name']} {d.get('version', '?')}: {ids}", file=sys.stderr)
    print(
        f"pip-audit: {audited} dependencies audited, {len(vulnerable)} vulnerable, "
        f"{len(skipped)} could not be audited"
    )
    if skipped:
        print(
            f"WARNING: {len(skipped)} dependencies could not be audited (the vulnerability "
            "service did not know them or was unreachable), e.g. "
            + ", ".join(f"{d['name']} {d.get('version', '?')}" for d in skipped[:5]),
            file=sys.stderr,
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
