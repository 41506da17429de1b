"""Run vpbx's playbook against the test inventories, as an operator would."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from vpbx.stack.process import wait_for

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
VENV_BIN = Path(sys.executable).parent
# Each deploy test's hosts keep their directories here (VPBX_DEPLOY_ROOT), apart
# from the test stack's run directory and from any dev stack.
DEPLOY_ROOT = REPO / ".run" / "deploy-tests"


@dataclass
class PlaybookRun:
    returncode: int
    stats: dict[str, dict[str, int]]  # per host: ok, changed, failures, unreachable, skipped...
    failures: list[str]
    changed: list[str]  # "host: task" of every task that changed something
    log: Path

    def explain(self) -> str:
        return f"ansible-playbook exited {self.returncode}; see {self.log}\n" + "\n".join(self.failures[-10:])

    def total(self, counter: str) -> int:
        return sum(host[counter] for host in self.stats.values())


_TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**$")
_OUTCOME = re.compile(r"^(?P<outcome>changed|fatal|failed): \[(?P<host>[^\]]+)\]")
_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counters>(?:\w+=\d+\s*)+)$")


def playbook(inventory: str, *extra: str, name: str = "run", play: str = "site.yml") -> PlaybookRun:
    """ansible-playbook -i inventories/<inventory>/hosts.yml <play>, read from
    its default output: the recap, and the tasks that changed or failed."""
    log = DEPLOY_ROOT / f"{name}.log"
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        VPBX_DEPLOY_ROOT=str(DEPLOY_ROOT),
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
    )
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", f"inventories/{inventory}/hosts.yml", play, *extra],
        cwd=ANSIBLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log.write_text(f"{_RETURNCODE}{result.returncode}\n" + result.stdout + _STDERR + result.stderr)
    return _read(result.returncode, result.stdout, result.stderr, log)


_RETURNCODE = "ansible-playbook exited "
_STDERR = "\n--- stderr ---\n"


def earlier_run(name: str, hosts: list[str]) -> PlaybookRun | None:
    """The run called ``name`` as its log kept it, if its hosts still run what it deployed."""
    log = DEPLOY_ROOT / f"{name}.log"
    if not log.exists() or not all(_supervisord(host) for host in hosts):
        return None
    first, _, rest = log.read_text().partition("\n")
    if not first.startswith(_RETURNCODE):
        return None
    stdout, _, stderr = rest.partition(_STDERR)
    return _read(int(first.removeprefix(_RETURNCODE)), stdout, stderr, log)


def _read(returncode: int, stdout: str, stderr: str, log: Path) -> PlaybookRun:
    stats: dict[str, dict[str, int]] = {}
    failures, changed, task = [], [], ""
    lines = stdout.splitlines()
    for number, line in enumerate(lines):
        if match := _TASK.match(line):
            task = match["name"]
        elif match := _OUTCOME.match(line):
            label = f"{match['host']}: {task}"
            if match["outcome"] == "changed":
                changed.append(label)
            else:
                failures.append(f"{label}: {' '.join(lines[number : number + 3])[:1500]}")
        elif (match := _RECAP.match(line)) and "ok=" in line:
            stats[match["host"]] = {k: int(v) for k, v in (c.split("=") for c in match["counters"].split())}
    if returncode != 0 and not failures:
        failures.append(stdout[-1500:] + stderr[-1500:])
    return PlaybookRun(returncode, stats, failures, changed, log)


def host_root(host: str) -> Path:
    return DEPLOY_ROOT / host


def supervisorctl(host: str, *args: str) -> subprocess.CompletedProcess:
    conf = host_root(host) / "etc" / "vpbx" / "supervisord.conf"
    return subprocess.run(["supervisorctl", "-c", str(conf), *args], capture_output=True, text=True, timeout=120)


def _supervisord(host: str) -> int | None:
    """The host's running supervisord."""
    try:
        pid = int((host_root(host) / "var" / "lib" / "vpbx" / "supervisord.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def tear_down(hosts: list[str]) -> None:
    """Stop every service the deployments started (supervisord and its programs)."""
    for host in hosts:
        pid = _supervisord(host)
        if pid is None:
            continue
        supervisorctl(host, "shutdown")
        # supervisord exits once its programs have: PostgreSQL's files are closed then.
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 120, f"{host}'s supervisord to exit")


def _listeners(hosts: list[str]) -> set[int]:
    """Processes with a socket on the hosts' addresses: only the deployments' own."""
    listing = subprocess.run(["ss", "-Hlunpt"], capture_output=True, text=True, check=True).stdout
    pids = set()
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[4].rsplit(":", 1)[0] in hosts:
            pids |= {int(pid) for pid in re.findall(r"pid=(\d+)", fields[6])}
    return pids


def fresh(hosts: list[str]) -> None:
    """No service of an earlier run left on the hosts' addresses (a run killed
    half-way leaves some its supervisord cannot stop), no file of it left."""
    tear_down(hosts)
    for pid in _listeners(hosts):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _listeners(hosts), 10, "the hosts' addresses to be free")
    shutil.rmtree(DEPLOY_ROOT, ignore_errors=True)
    DEPLOY_ROOT.mkdir(parents=True, mode=0o755)
    # Users the services run as (postgres, vpbx) pass through to their directories.
    for directory in (DEPLOY_ROOT, DEPLOY_ROOT.parent):
        directory.chmod(0o755)
