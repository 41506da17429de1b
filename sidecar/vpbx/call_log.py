"""One log line per call decision, found by its Call-ID in every process's log.

Kamailio (routed, rejected, answered, missed, each lookup), the media app
(answered, refused, ended) and the sidecar (a click-to-call placed) each write
a line when they decide something about a call. The Call-ID is the field
``callid`` everywhere: Kamailio's own JSON log engine names it so, and every
other line follows it, so one grep finds a call across all of them::

    grep 'callid=4f1c…' .run/dev/log/*.log          # text, the default
    grep '"callid": "4f1c…"' /var/log/vpbx/*.log     # [logging] format = "json"

Text lines are ``callid=<Call-ID> event=<what> key=value …`` (values with a
space or a quote are quoted). JSON lines are one object each: the time, the
level, the component, the logger's message and, for a call decision, its
fields. Kamailio writes its own JSON (``--log-engine=json:cMj``): its lines
carry ``callid`` themselves, and ours appear inside them as objects.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT, JSON = "text", "json"
FORMATS = (TEXT, JSON)
# Kamailio's command-line option for JSON lines: c adds the Call-ID of the
# message being handled, M strips the newline, j keeps a message that is a
# JSON object as an object.
KAMAILIO_JSON_ENGINE = "--log-engine=json:cMj"

_format = TEXT


def set_format(log_format: str) -> None:
    """How ``line`` writes (Kamailio's workers, which have no logging handler of ours)."""
    global _format
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: one of {', '.join(FORMATS)}")
    _format = log_format


def _value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\\') else text


def fields(event: str, callid: str, **details: object) -> dict:
    return {"callid": callid, "event": event, **{k: v for k, v in details.items() if v is not None}}


def line(event: str, callid: str, **details: object) -> str:
    """A call decision as a line of the current format."""
    data = fields(event, callid, **details)
    if _format == JSON:
        return json.dumps(data, separators=(", ", ": "), default=str)
    return " ".join(f"{name}={_value(value)}" for name, value in data.items())


def decided(logger: logging.Logger, event: str, callid: str, **details: object) -> None:
    """Log a call decision at INFO: the text line, and its fields for the JSON formatter."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(line(event, callid, **details), extra={"call": fields(event, callid, **details)})


class JsonLines(logging.Formatter):
    """One JSON object per record. Written here rather than taken from a
    package: it is a json.dumps of the record's few fields."""

    def __init__(self, component: str):
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": self.component,
            "logger": record.name,
        }
        call = getattr(record, "call", None)
        if isinstance(call, dict):
            data.update(call)
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, separators=(", ", ": "), default=str)


def configure(component: str, log_format: str) -> None:
    """The root logger of a vpbx process (keeper, media app, sidecar) at INFO, to stderr."""
    set_format(log_format)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == JSON:
        handler.setFormatter(JsonLines(component))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {component} %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
