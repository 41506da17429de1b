"""gunicorn's access log without secrets in URLs.

A voicemail link (/voicemail/<signed token>) is a credential for seven days:
whoever reads the access log could play the message. The token is replaced
by "<token>" in every field that shows a URL (the request line, the path and
the Referer).
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

_SECRET_PATHS = re.compile(r"(/voicemail/)[^/?\s\"]+")
_URL_ATOMS = ("r", "U", "f", "{raw_uri}e")


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1<token>", text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in _URL_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
