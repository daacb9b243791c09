"""Make sure a headless Chromium exists for the browser test (Debian's package; no browser download).

Run by `make test` before pytest. It never fails the build: when Chromium cannot be installed,
the browser test skips itself and prints this reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")


def find_chromium() -> str | None:
    for path in CANDIDATES:
        if os.path.exists(path):
            return path
    return shutil.which("chromium")


def install() -> str | None:
    if find_chromium():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return "not root and no sudo: cannot install Debian's chromium"
    print("installing Debian's chromium for the browser test (once)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(prefix + command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0 and command[1] == "install":
            return f"`{' '.join(command)}` failed: {result.stderr.strip().splitlines()[-1:] or result.returncode}"
    return None if find_chromium() else "chromium is still missing after apt-get install"


if __name__ == "__main__":
    problem = install()
    if problem:
        print(f"browser test will be skipped: {problem}", file=sys.stderr)
