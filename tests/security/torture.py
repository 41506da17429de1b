"""Messages built after RFC 4475 (SIP torture tests), one per case of its
section 3, named as the RFC names them, each with the answer the RFC asks of
a proxy and registrar.

They are written for this stack rather than copied: every address is ours
(127.0.0.0/8 or .invalid names), the top Via is the test's own socket, and
each message gets a fresh Call-ID and branch. What each case exercises is the
RFC's: folded and oddly spaced headers, escapes, unusual tokens, overlong
values, wrong lengths and versions, unknown schemes and extensions.

``{ruri_host}`` is Kamailio's address, ``{via}`` the test socket's Via
(with a fresh branch), ``{via_host}`` its address, ``{id}`` a fresh token:
replaced as plain text (some messages hold braces of their own).
"""

from __future__ import annotations

from dataclasses import dataclass

# What "processed" means here: an unauthenticated request from a phone's
# address reaches authentication (401/407), or is answered by the proxy
# itself (200 to a keepalive, 405, 483, 484, 416, 420).
PROCESSED = frozenset({200, 401, 405, 407, 416, 420, 483, 484})
DROPPED = None  # no answer at all


@dataclass(frozen=True)
class Case:
    name: str
    section: str
    text: str
    expect: frozenset[int] | None
    why: str = ""  # when the answer differs from the RFC's, the reason


# Where this stack's answer differs from the RFC's, and why (README, Security).
FOLDED_CSEQ = (
    "Kamailio 5.6's CSeq parser does not take a method folded onto a continuation line: "
    "the core drops the message before any route runs"
)
HEADER_NAME_TOKENS = (
    "Kamailio 5.6's header-name parser refuses some legal token characters (! % ' ` ~): "
    "the core drops the message before any route runs"
)
BYTES_AFTER_BODY = (
    "refused, not processed: Kamailio would relay the bytes after Content-Length with the "
    "request, and a TCP or TLS next hop would read them as a second request (smuggling)"
)
HEADERS_UNPARSED = (
    "dropped, not 400: a reply copies Via, From, To, Call-ID and CSeq, and Kamailio cannot "
    "build one from headers it cannot parse"
)
FIRST_LINE_UNPARSED = "dropped, not 400: Kamailio's core cannot parse the request line, so no route runs"
VERSION_UNKNOWN = "dropped, not 505: Kamailio's core knows only SIP/2.0 and drops other versions unanswered"
TOLERATED = (
    "processed, not 400: Kamailio's parsers accept it, and it is challenged and relayed "
    "like any request; nothing here reads what is malformed"
)
CONTACT_URI_HEADERS = (
    "challenged like any REGISTER; after authentication the registrar stores the Contact as "
    "a URI, and URI headers are never applied to requests sent to it"
)

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"


def _message(lines: list[str], body: str = "", content_length: int | None = None) -> str:
    length = len(body.encode()) if content_length is None else content_length
    return "\r\n".join([*lines, f"Content-Length: {length}", "", body])


def _common(method: str, ruri_user: str = "torture") -> list[str]:
    return [
        "{via}",
        "Max-Forwards: 70",
        "From: <sip:caller@torture.invalid>;tag={id}f",
        f"To: <sip:{ruri_user}@{{ruri_host}}>",
        "Call-ID: {id}@torture.invalid",
        f"CSeq: 1 {method}",
    ]


CASES: list[Case] = [
    # ---- 3.1.1 valid messages: each must be processed ----
    Case(
        "wsinv",
        "3.1.1.1",
        _message(
            [
                "INVITE sip:torture@{ruri_host};unknownparam SIP/2.0",
                "{via}",
                "TO :",
                " <sip:torture@{ruri_host}> ;   tag    = 1918n",
                'from   : "Tortured \\\\\\""       <sip:caller@torture.invalid>',
                "  ;",
                "  tag = {id}f",
                "MaX-fOrWaRdS: 0068",
                "Call-ID: {id}@torture.invalid",
                "cseq: 0009",
                "  INVITE",
                "s :",
                "NewFangledHeader:   newfangled value",
                " continued newfangled value",
                "UnknownHeaderWithUnusualValue: ;;,,;;,;",
                "Content-Type: application/sdp",
                'm:"Quoted string \\"\\"" <sip:caller@127.0.0.1> ; newparam =',
                "      newvalue ;",
                "  secondparam ; q = 0.33",
            ],
            SDP,
        ),
        DROPPED,
        FOLDED_CSEQ,
    ),
    Case(
        "intmeth",
        "3.1.1.2",
        _message(
            [
                "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
                ":&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@{ruri_host} SIP/2.0",
                "{via}",
                "To: <sip:torture@{ruri_host}>",
                "From: <sip:caller@torture.invalid>;tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
                "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
                "extensionHeader-!.%*+_`'~: \u5927\u505c\u96fb",
            ]
        ).replace("intmeth.word", "{id}.word"),
        DROPPED,
        HEADER_NAME_TOKENS,
    ),
    Case(
        "esc01",
        "3.1.1.3",
        _message(
            [
                "INVITE sip:sips%3Auser%40torture.invalid@{ruri_host} SIP/2.0",
                "{via}",
                "To: <sip:%61lice@{ruri_host}>",
                "From: <sip:I%20have%20spaces@torture.invalid>;tag={id}f",
                "Max-Forwards: 87",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 14488 INVITE",
                "Content-Type: application/sdp",
            ],
            SDP,
        ),
        PROCESSED,
    ),
    Case(
        "escnull",
        "3.1.1.4",
        _message(
            [
                "REGISTER sip:{ruri_host} SIP/2.0",
                "{via}",
                "To: sip:null-%00-null@{ruri_host}",
                "From: sip:null-%00-null@{ruri_host};tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 93809823 REGISTER",
                "Contact: <sip:%00@127.0.0.1>",
                "Contact: <sip:%00%00@127.0.0.1>",
                "Expires: 60",
            ]
        ),
        PROCESSED,
    ),
    Case(
        "esc02",
        "3.1.1.5",
        _message(
            [
                "RE%47IST%45R sip:{ruri_host} SIP/2.0",
                "{via}",
                "To: <sip:torture@{ruri_host}>",
                "From: <sip:caller@torture.invalid>;tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 29344 RE%47IST%45R",
                "Contact: <sip:caller@127.0.0.1>",
            ]
        ),
        PROCESSED,
    ),
    Case(
        "lwsdisp",
        "3.1.1.6",
        _message(
            [
                "OPTIONS sip:torture@{ruri_host} SIP/2.0",
                "{via}",
                "To: <sip:torture@{ruri_host}>",
                "From: caller<sip:caller@torture.invalid>;tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 1 OPTIONS",
            ]
        ),
        PROCESSED,
    ),
    Case(
        "longreq",
        "3.1.1.7",
        _message(
            [
                "INVITE sip:torture@{ruri_host} SIP/2.0",
                "{via}",
                "To: <sip:torture@{ruri_host}>",
                f'From: "{"very" * 50}long" <sip:{"a" * 300}@torture.invalid>;tag={{id}}f;unknownparam{"x" * 200}',
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 1 INVITE",
                f"Unknown-{'Long' * 40}: {'value' * 200}",
                "Content-Type: application/sdp",
            ],
            SDP,
        ),
        PROCESSED,
    ),
    Case(
        "dblreq",
        "3.1.1.8",
        _message(
            [
                "REGISTER sip:{ruri_host} SIP/2.0",
                *_common("REGISTER")[0:1],
                "To: <sip:torture@{ruri_host}>",
                "From: <sip:torture@{ruri_host}>;tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 1 REGISTER",
                "Contact: <sip:torture@127.0.0.1>",
            ]
        )
        # A second request in the same datagram, after the first's Content-Length: to be ignored.
        + "INVITE sip:torture@{ruri_host} SIP/2.0\r\nCall-ID: second@torture.invalid\r\nContent-Length: 0\r\n\r\n",
        frozenset({400}),
        BYTES_AFTER_BODY,
    ),
    Case(
        "semiuri",
        "3.1.1.9",
        _message(
            [
                "OPTIONS sip:user;par=u%40example.invalid@{ruri_host} SIP/2.0",
                *_common("OPTIONS"),
            ]
        ),
        PROCESSED,
    ),
    Case(
        "transports",
        "3.1.1.10",
        _message(
            [
                "OPTIONS sip:torture@{ruri_host} SIP/2.0",
                "{via}",
                "Via: SIP/2.0/SCTP 127.0.0.3;branch=z9hG4bKsctp",
                "Via: SIP/2.0/TLS 127.0.0.4:5061;branch=z9hG4bKtls",
                "Via: SIP/2.0/UNKNOWN 127.0.0.5:9999;branch=z9hG4bKunknown",
                *_common("OPTIONS")[1:],
            ]
        ),
        PROCESSED,
    ),
    Case(
        "mpart01",
        "3.1.1.11",
        _message(
            [
                "MESSAGE sip:torture@{ruri_host} SIP/2.0",
                *_common("MESSAGE"),
                "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655",
                "MIME-Version: 1.0",
            ],
            "--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n\r\nhello\r\n--7a9cbec02ceef655--\r\n",
        ),
        PROCESSED,
    ),
    Case(
        "zeromf",
        "3.3.13",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS")]).replace(
            "Max-Forwards: 70", "Max-Forwards: 0"
        ),
        frozenset({483}),
    ),
    Case(
        "inv2543",
        "3.4.1",
        _message(
            [
                "INVITE sip:torture@{ruri_host} SIP/2.0",
                "Via: SIP/2.0/UDP {via_host}",
                "Max-Forwards: 70",
                "From: <sip:caller@torture.invalid>",
                "To: <sip:torture@{ruri_host}>",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 1 INVITE",
                "Content-Type: application/sdp",
            ],
            SDP,
        ),
        PROCESSED,
    ),
    # ---- 3.1.2 invalid messages: 400 (or dropped where no reply can be built) ----
    Case(
        "badinv01",
        "3.1.2.1",
        _message(
            [
                "INVITE sip:torture@{ruri_host} SIP/2.0",
                "{via}",
                "To: sip:torture@{ruri_host}",
                "From: sip:caller@torture.invalid;tag={id}f",
                "Max-Forwards: 70",
                "Call-ID: {id}@torture.invalid",
                "CSeq: 8 INVITE",
                "Content-Type: application/sdp",
            ],
            SDP,
        ).replace("To: sip:", "To: sip:torture@{ruri_host};tag=x>, <sip:"),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "clerr",
        "3.1.2.2",
        _message(
            ["INVITE sip:torture@{ruri_host} SIP/2.0", *_common("INVITE"), "Content-Type: application/sdp"], SDP, 9999
        ),
        frozenset({400}),
    ),
    Case(
        "ncl",
        "3.1.2.3",
        _message(
            ["INVITE sip:torture@{ruri_host} SIP/2.0", *_common("INVITE"), "Content-Type: application/sdp"], SDP, -999
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "scalar02",
        "3.1.2.4",
        _message(["REGISTER sip:{ruri_host} SIP/2.0", *_common("REGISTER"), "Contact: <sip:torture@127.0.0.1>"])
        .replace("Max-Forwards: 70", "Max-Forwards: 300")
        .replace("CSeq: 1 REGISTER", "CSeq: 36893488147419103232 REGISTER"),
        frozenset({400}),
    ),
    Case(
        "quotbal",
        "3.1.2.6",
        _message(["INVITE sip:torture@{ruri_host} SIP/2.0", *_common("INVITE")]).replace(
            "To: <sip:", 'To: "Mr. J. User <sip:'
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "ltgtruri",
        "3.1.2.7",
        _message(["INVITE <sip:torture@{ruri_host}> SIP/2.0", *_common("INVITE")]),
        frozenset({400}),
    ),
    Case(
        "lwsruri",
        "3.1.2.8",
        _message(["INVITE sip:user@{ruri_host}; lr SIP/2.0", *_common("INVITE")]),
        DROPPED,
        FIRST_LINE_UNPARSED,
    ),
    Case(
        "lwsstart",
        "3.1.2.9",
        _message(["INVITE  sip:torture@{ruri_host}  SIP/2.0", *_common("INVITE")]),
        DROPPED,
        FIRST_LINE_UNPARSED,
    ),
    Case(
        "trws",
        "3.1.2.10",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0 ", *_common("OPTIONS")]),
        PROCESSED,
        TOLERATED,
    ),
    Case(
        "regbadct",
        "3.1.2.13",
        _message(
            [
                "REGISTER sip:{ruri_host} SIP/2.0",
                *_common("REGISTER"),
                "Contact: sip:torture@127.0.0.1?Route=%3Csip:127.0.0.9%3E",
            ]
        ),
        PROCESSED,
        CONTACT_URI_HEADERS,
    ),
    Case(
        "badaspec",
        "3.1.2.14",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS")]).replace(
            "To: <sip:torture@", "To: <sip:torture@ "
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "baddn",
        "3.1.2.15",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS")]).replace(
            "From: <sip:", "From: Bell, Alexander <sip:"
        ),
        PROCESSED,
        TOLERATED,
    ),
    Case(
        "badvers",
        "3.1.2.16",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/7.0", *_common("OPTIONS")]),
        DROPPED,
        VERSION_UNKNOWN,
    ),
    Case(
        "mismatch01",
        "3.1.2.17",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("INVITE")]),
        frozenset({400}),
    ),
    Case(
        "mismatch02",
        "3.1.2.18",
        _message(["NEWMETHOD sip:torture@{ruri_host} SIP/2.0", *_common("INVITE")]),
        frozenset({400}),
    ),
    # ---- 3.3 application layer ----
    Case(
        "insuf",
        "3.3.3",
        "\r\n".join(
            [
                "INVITE sip:torture@{ruri_host} SIP/2.0",
                "{via}",
                "CSeq: 1 INVITE",
                "Max-Forwards: 70",
                "Content-Length: 0",
                "",
                "",
            ]
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "unkscm",
        "3.3.1",
        _message(["OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0", *_common("OPTIONS")]),
        frozenset({416}),
    ),
    Case(
        "novelsc",
        "3.3.2",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS")]).replace(
            "To: <sip:torture@{ruri_host}>", "To: isbn:2983792873"
        ),
        PROCESSED,
    ),
    Case(
        "bext01",
        "3.3.5",
        _message(["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS"), "Proxy-Require: noodles, nuts"]),
        frozenset({420}),
    ),
    Case(
        "invut",
        "3.3.6",
        _message(
            ["INVITE sip:torture@{ruri_host} SIP/2.0", *_common("INVITE"), "Content-Type: application/unknownformat"],
            "<audio><pcmu port=443/></audio>\r\n",
        ),
        PROCESSED,
    ),
    Case(
        "multi01",
        "3.3.9",
        _message(
            [
                "INVITE sip:torture@{ruri_host} SIP/2.0",
                *_common("INVITE"),
                "To: <sip:other@{ruri_host}>",
                "Call-ID: second-{id}@torture.invalid",
                "Content-Type: application/sdp",
            ],
            SDP,
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
    Case(
        "mcl01",
        "3.3.10",
        _message(
            ["OPTIONS sip:torture@{ruri_host} SIP/2.0", *_common("OPTIONS"), "Content-Length: 7"],
        ),
        DROPPED,
        HEADERS_UNPARSED,
    ),
]
