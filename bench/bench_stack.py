"""What the benchmarks share: a fresh "bench" stack and its demo admin's API."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

from vpbx.stack import manager
from vpbx.stack.profile import Profile
from vpbx.stack.profile import profile as load_profile


def fresh_stack() -> Profile:
    """The bench stack, started from an empty run directory (a fresh database)."""
    profile = load_profile("bench")
    manager.down(profile, say=lambda _: None)
    shutil.rmtree(profile.run_dir, ignore_errors=True)
    manager.up(profile, say=lambda _: None)
    return profile


def parent_pids() -> dict[int, int]:
    """Every process's parent, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError):
                continue  # gone meanwhile
    return parents


def socket_inodes(pid: int) -> set[str]:
    """The inodes of a process's open sockets, as /proc/net/{tcp,udp} name them."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def credentials(profile: Profile) -> dict:
    return json.loads((profile.run_dir / "demo-credentials.json").read_text())


class Api:
    """The demo company's admin API on the bench stack."""

    def __init__(self, profile: Profile):
        self.base = f"http://127.0.0.1:{profile.ports.sidecar}/api/v1"
        self.token = credentials(profile)["admin_api_token"]

    def __call__(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
