"""The media app's side of SDP offer/answer: one audio stream, G.711 plus RFC 4733.

The offers come from rtpengine (Kamailio anchors every call), so they are
regular and small; a few lines of parsing serve better than a general SDP
library here. Only G.711 is answered: the media app decodes what it records
itself, and rtpengine transcodes for callers who speak something else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

# Static payload types (RFC 3551) in the order the media app prefers them.
G711 = {8: "PCMA", 0: "PCMU"}


class NoCommonCodec(ValueError):
    pass


@dataclass(frozen=True)
class Offer:
    address: str
    port: int
    payload_types: tuple[int, ...]
    telephone_event: int | None  # the dynamic payload type of RFC 4733 events at 8 kHz


@dataclass(frozen=True)
class Answer:
    payload_type: int  # 8 PCMA or 0 PCMU
    telephone_event: int | None

    @property
    def codec(self) -> str:
        return G711[self.payload_type]


def parse_offer(body: bytes) -> Offer:
    address, port, telephone_event = None, None, None
    payload_types: tuple[int, ...] = ()
    in_audio = False
    for line in body.decode("utf-8", "replace").splitlines():
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            fields = value.split()
            in_audio = fields[0] == "audio" and port is None
            if in_audio:
                port = int(fields[1])
                payload_types = tuple(int(pt) for pt in fields[3:] if pt.isdigit())
        elif kind == "c" and (in_audio or address is None):
            address = value.split()[-1].split("/")[0]
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            pt, _, encoding = value[len("rtpmap:") :].partition(" ")
            if encoding.lower().startswith("telephone-event/8000") and pt.isdigit():
                telephone_event = int(pt)
    if address is None or port is None:
        raise NoCommonCodec("the offer has no audio stream")
    return Offer(address, port, payload_types, telephone_event)


def choose(offer: Offer) -> Answer:
    for payload_type in G711:
        if payload_type in offer.payload_types:
            events = offer.telephone_event if offer.telephone_event in offer.payload_types else None
            return Answer(payload_type, events)
    raise NoCommonCodec("the offer has neither PCMA nor PCMU")


def offer_body(answer: Answer, address: str, port: int) -> bytes:
    """An offer of both G.711 laws, ``answer``'s first, for a leg the media app opens."""
    return answer_body(answer, address, port, also=[pt for pt in G711 if pt != answer.payload_type])


def answer_body(
    answer: Answer, address: str, port: int, session_id: int | None = None, also: list[int] | None = None
) -> bytes:
    session = session_id or int(time.time())
    payloads = [str(answer.payload_type)] + [str(pt) for pt in also or ()]
    lines = ["v=0", f"o=vpbx {session} {session} IN IP4 {address}", "s=vpbx", f"c=IN IP4 {address}", "t=0 0"]
    attributes = [f"a=rtpmap:{pt} {G711[int(pt)]}/8000" for pt in payloads]
    if answer.telephone_event is not None:
        payloads.append(str(answer.telephone_event))
        attributes += [
            f"a=rtpmap:{answer.telephone_event} telephone-event/8000",
            f"a=fmtp:{answer.telephone_event} 0-16",
        ]
    lines.append(f"m=audio {port} RTP/AVP {' '.join(payloads)}")
    lines += attributes + ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()
