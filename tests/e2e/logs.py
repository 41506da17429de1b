"""What the stack's services log while a test runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ERROR_LINE = re.compile(r"\b(ERROR|ERR|CRITICAL|CRIT|BUG|Traceback)\b")


class LogTail:
    """What each service logs from now on."""

    def __init__(self, log_dir: Path, names=("kamailio", "rtpengine", "media-app", "history-keeper", "sidecar")):
        self.files = {name: log_dir / f"{name}.log" for name in names}
        self.offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in self.files.items()}

    def matching(self, pattern: re.Pattern[str]) -> list[str]:
        """Lines logged since, as "<service>: <line>", that match ``pattern``."""
        found = []
        for name, path in self.files.items():
            with open(path, errors="replace") as fh:
                fh.seek(self.offsets[name])
                found += [f"{name}: {line.rstrip()}" for line in fh if pattern.search(line)]
        return found

    def errors(self, expected: Iterable[re.Pattern[str]] = ()) -> list[str]:
        """Error lines logged since, but those ``expected`` (each with its reason at the caller)."""
        expected = tuple(expected)
        return [line for line in self.matching(ERROR_LINE) if not any(p.search(line) for p in expected)]
