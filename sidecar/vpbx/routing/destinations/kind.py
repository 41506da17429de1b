"""What each destination kind declares about itself, in its own module (``KIND``).

Everything else is derived from these declarations: the API's schema and its
ownership checks (vpbx.api.destinations), the storage columns, how the
compiler reads a stored destination (vpbx.config.compile), which node targets
Kamailio relays to the media app (vpbx.kamailio_adapter.execute), which ones
a lookup expands (vpbx.routing.plan), and which IVR keys ring people. Adding a
kind is one module here and its line in ``destinations.MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ..targets import Data, Expansion, Resolution

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


class Handler(Enum):
    """Who carries out a destination of the kind on a real call."""

    KAMAILIO = "Kamailio rings it"
    MEDIA_APP = "the media app handles it"
    LOOKUP = "a lookup (webhook, CRM) chooses what rings in its place"
    NOT_RUN = "accepted, but not run by this version"


class Option(Enum):
    """How a kind's option is validated by the API."""

    ID = "the id of an object of the company"
    PHONE_NUMBER = "a phone number, kept in E.164"
    SIP_URI = "a SIP URI outside this system"


@dataclass(frozen=True)
class Field:
    """A kind's one option: its name in the API and in compiled documents,
    the column of step_destinations and ivr_keys that stores it, and what it
    names (for ``Option.ID``: the object the API checks the company owns)."""

    name: str
    option: Option
    column: str
    names: str | None = None


class Parts(Protocol):
    """What the compiler looks up for a kind whose compiled form carries more
    than its stored option (an employee's phones and hours, say)."""

    def employees(self, ids: list[int]) -> list[Data]: ...

    def department(self, department_id: int) -> Data: ...

    def sip_account(self, account_id: int) -> Data: ...


@dataclass(frozen=True)
class Kind:
    name: str
    handled_by: Handler
    resolve: Callable[[Data, Call, Context], Resolution]
    field: Field | None = None
    # The compiled form of a stored destination (a step_destinations or
    # ivr_keys row); None: the option as it is stored, under its API name.
    compiles: Callable[[Data, Parts], Data] | None = None
    # Handler.LOOKUP: what rings in the node's place, given the lookup's
    # outcome: (node, outcome, the step's timeout, the company's directory).
    expand: Callable[[str, Any, int, Data], Expansion] | None = None
    # The voicemail box a destination of the kind leaves the caller in once
    # nobody it rang answered (a department's R4 rule; voicemail itself).
    when_nobody_answers: Callable[[Data], int | None] | None = None
    # The department that calls the caller back once nobody a destination of
    # the kind rang answered (a department's R4 rule "call back later").
    calls_back_when_nobody_answers: Callable[[Data], int | None] | None = None

    def compile(self, row: Data, parts: Parts) -> Data:
        if self.compiles is not None:
            return self.compiles(row, parts)
        return {self.field.name: row[self.field.column]} if self.field else {}

    def expanded(self, node: str, outcome: Any, step_timeout: int, directory: Data) -> Expansion:
        """What rings in a looked-up node's place (Handler.LOOKUP kinds only)."""
        if self.expand is None:
            raise TypeError(f"destination kind {self.name} is not looked up")
        return self.expand(node, outcome, step_timeout, directory)

    def voicemail_when_nobody_answers(self, data: Data) -> int | None:
        return self.when_nobody_answers(data) if self.when_nobody_answers is not None else None

    def callback_when_nobody_answers(self, data: Data) -> int | None:
        f = self.calls_back_when_nobody_answers
        return f(data) if f is not None else None

    @property
    def rings_from_ivr(self) -> bool:
        """An IVR key to it rings people: the media app opens a new leg through
        Kamailio (the media app handles its own kinds, voicemail and menus)."""
        return self.handled_by is Handler.KAMAILIO
