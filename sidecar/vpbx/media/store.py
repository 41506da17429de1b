"""What the media app reads from PostgreSQL (boxes, menus, recipients) and
writes there (messages). Read when a call reaches the node: the media app
answers a handful of calls where Kamailio routes thousands, and a fresh read
never plays an IVR menu an administrator has just changed.

Only what a node plays and records comes from here. Where a caller goes next
(a menu's keys, a scheme's steps, a department's voicemail) is routing's, read
from the compiled documents (vpbx.media.routing_documents)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ..db import Row, one
from ..routing.plan import HeldStep


@dataclass(frozen=True)
class Prompt:
    kind: str  # "default", "tts", "upload"
    text: str | None
    language: str
    file_name: str | None = None  # an upload's WAV, in the media data directory's prompts/


@dataclass(frozen=True)
class Box:
    id: int
    company_id: int
    name: str
    timezone: str
    greeting: Prompt | None
    max_length_s: int
    silence_s: int
    extra_email: str | None


@dataclass(frozen=True)
class Menu:
    id: int
    company_id: int
    domain: str  # the company's SIP domain: where the legs for its keys are routed
    name: str
    greeting: Prompt | None  # None: the standard greeting
    timeout_s: int
    invalid_key_tries: int
    # "1" -> where the key leads (a compiled destination); "timeout" is the
    # default route. From the company's document, added by the media app.
    keys: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class NoAnswerRule:
    """What a direct call to an employee nobody answered does in the media app (R15, seed 003)."""

    employee_id: int
    company_id: int
    domain: str
    rule: str  # "drop_message", or a forward ("forward_employee", "forward_department")
    message: Prompt | None  # drop_message: the company's own message
    notice: str  # before a forward: "none", "default", "custom"
    notice_prompt: Prompt | None  # the custom notice


@dataclass(frozen=True)
class Department:
    """A department that promises its callers a callback once nobody answered (R4, seed 000)."""

    id: int
    company_id: int
    domain: str
    name: str
    region: str  # the company's: how a caller's number reads


@dataclass(frozen=True)
class CategoryMenu:
    """What whoever answered a scheme's call hears once the caller hung up (seed 002)."""

    id: int
    company_id: int
    name: str
    prompt: Prompt | None  # None: the standard prompt
    wait_s: int  # for a key, once the prompt has played
    categories: dict[str, str]  # key -> the category's name


@dataclass(frozen=True)
class Announced:
    """A scheme the media app answers for (R14), and where its caller goes when nobody answers."""

    id: int
    company_id: int
    domain: str
    name: str
    greeting: Prompt | None
    music: Prompt | None
    whisper: Prompt | None
    forward_notice: str  # "none", "default", "custom"
    notice: Prompt | None  # the custom notice
    category_menu: CategoryMenu | None = None
    # From the company's directory document, added by the media app.
    steps: tuple[HeldStep, ...] = ()


@dataclass(frozen=True)
class Queue:
    """A call queue (R18) as its media node runs it."""

    id: int
    company_id: int
    domain: str
    name: str
    strategy: str  # ring_all, round_robin, longest_idle
    max_wait_s: int
    max_callers: int
    music: Prompt | None  # None: the standard ringback
    agents: tuple[int, ...]  # employee ids logged in and not paused, in the queue's order
    agent_ring_s: int
    wrap_up_s: int
    announce_position_s: int  # 0: never
    join_empty: bool
    fallback_voicemail_box_id: int | None
    pause_after_misses: int = 0  # 0: never
    penalty: Mapping[int, int] = field(default_factory=dict)  # by agent; missing: 0
    offer_callback: bool = False
    region: str = "RU"  # the company's: how a caller's number reads
    whisper: bool = False  # the agent hears the queue's name and the wait before the caller
    announce_wait: bool = False  # the estimated wait follows each position announcement
    announce_position: bool = True  # each announcement tells the caller's place
    announcement: Prompt | None = None  # the company's own, after the place and the wait


@dataclass(frozen=True)
class Employee:
    """An employee who dialled a feature code from their phone."""

    id: int
    company_id: int
    domain: str
    extension: str
    name: str


@dataclass(frozen=True)
class Message:
    id: int
    file_name: str  # relative to the media data directory
    caller: str
    received_at: datetime
    heard: bool


def _prompt(row: dict, prefix: str) -> Prompt | None:
    if row[f"{prefix}_kind"] is None:
        return None
    return Prompt(row[f"{prefix}_kind"], row[f"{prefix}_text"], row[f"{prefix}_language"], row[f"{prefix}_file"])


def _prompt_columns(alias: str, prefix: str) -> str:
    return ", ".join(
        f"{alias}.{column} AS {prefix}_{name}"
        for column, name in (("kind", "kind"), ("text", "text"), ("language", "language"), ("file_name", "file"))
    )


class Store:
    """Every object is looked up within the company of the call (Kamailio's
    X-Vpbx-Company header): an id alone never reaches another company's box."""

    def __init__(self, database_url: str):
        # Connections idle through a database restart are dead: each is checked before lending.
        self.pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=4,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "autocommit": True},
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=10)

    async def close(self) -> None:
        await self.pool.close()

    async def box(self, box_id: int, company_id: int) -> Box | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"""SELECT b.id, b.company_id, b.name, b.max_length_s, b.silence_s, b.extra_email, c.timezone,
                           {_prompt_columns("p", "prompt")}
                     FROM voicemail_boxes b JOIN companies c ON c.id = b.company_id
                     LEFT JOIN prompts p ON p.id = b.greeting_prompt_id
                    WHERE b.id = %s AND b.company_id = %s""",
                    (box_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        return Box(
            row["id"],
            row["company_id"],
            row["name"],
            row["timezone"],
            _prompt(row, "prompt"),
            row["max_length_s"],
            row["silence_s"],
            row["extra_email"],
        )

    async def recipients(self, box: Box) -> list[str]:
        """Every address told of a new message: employees named, every member
        of a department named who has an email (R11), and the extra address."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    """SELECT e.email FROM voicemail_recipients r JOIN employees e ON e.id = r.employee_id
                    WHERE r.voicemail_box_id = %(box)s AND e.email IS NOT NULL
                   UNION
                   SELECT e.email FROM voicemail_recipients r
                     JOIN department_members m ON m.department_id = r.department_id
                     JOIN employees e ON e.id = m.employee_id
                    WHERE r.voicemail_box_id = %(box)s AND e.email IS NOT NULL""",
                    {"box": box.id},
                )
            ).fetchall()
        addresses = sorted({r["email"] for r in rows})
        if box.extra_email and box.extra_email not in addresses:
            addresses.append(box.extra_email)
        return addresses

    async def menu(self, menu_id: int, company_id: int) -> Menu | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"""SELECT m.id, m.company_id, c.sip_domain, m.name, m.greeting_kind, m.greeting_text, m.timeout_s,
                           m.invalid_key_tries, {_prompt_columns("p", "prompt")}
                     FROM ivr_menus m JOIN companies c ON c.id = m.company_id
                     LEFT JOIN prompts p ON p.id = m.greeting_prompt_id
                    WHERE m.id = %s AND m.company_id = %s""",
                    (menu_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        greeting: Prompt | None
        if row["greeting_kind"] == "tts":
            greeting = Prompt("tts", row["greeting_text"], "ru")
        else:  # a prompt's, or None for the standard greeting
            greeting = _prompt(row, "prompt") if row["greeting_kind"] == "prompt" else None
        return Menu(
            row["id"],
            row["company_id"],
            row["sip_domain"],
            row["name"],
            greeting,
            row["timeout_s"],
            row["invalid_key_tries"],
        )

    async def scheme(self, scheme_id: int, company_id: int) -> Announced | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"""SELECT s.id, s.company_id, c.sip_domain, s.name, s.forward_notice,
                           {_prompt_columns("g", "greeting")}, {_prompt_columns("m", "music")},
                           {_prompt_columns("w", "whisper")}, {_prompt_columns("n", "notice")},
                           cm.id AS menu_id, cm.name AS menu_name, cm.wait_s AS menu_wait_s,
                           cm.categories AS menu_categories, {_prompt_columns("cp", "menu")}
                      FROM schemes s JOIN companies c ON c.id = s.company_id
                      LEFT JOIN prompts g ON g.id = s.greeting_prompt_id
                      LEFT JOIN prompts m ON m.id = s.music_prompt_id
                      LEFT JOIN prompts w ON w.id = s.whisper_prompt_id
                      LEFT JOIN prompts n ON n.id = s.forward_notice_prompt_id
                      LEFT JOIN category_menus cm ON cm.id = s.category_menu_id
                      LEFT JOIN prompts cp ON cp.id = cm.prompt_id
                     WHERE s.id = %s AND s.company_id = %s""",
                    (scheme_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        return Announced(
            row["id"],
            row["company_id"],
            row["sip_domain"],
            row["name"],
            _prompt(row, "greeting"),
            _prompt(row, "music"),
            _prompt(row, "whisper"),
            row["forward_notice"],
            _prompt(row, "notice"),
            None
            if row["menu_id"] is None
            else CategoryMenu(
                row["menu_id"],
                row["company_id"],
                row["menu_name"],
                _prompt(row, "menu"),
                row["menu_wait_s"],
                row["menu_categories"],
            ),
        )

    async def save_message(
        self,
        box: Box,
        *,
        call_id: str,
        caller: str,
        called: str,
        received_at: datetime,
        duration_ms: int,
        file_name: str,
    ) -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    """INSERT INTO voicemail_messages (company_id, voicemail_box_id, box_name, call_id, caller, called,
                                                   received_at, duration_ms, file_name)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                    (box.company_id, box.id, box.name, call_id, caller, called, received_at, duration_ms, file_name),
                )
            ).fetchone()
        return int(one(row, "the message just stored")["id"])

    async def record_emails(self, message_id: int, sent_to: list[str], error: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE voicemail_messages SET emailed_to = %s, email_error = %s WHERE id = %s",
                (sent_to, error, message_id),
            )

    async def queue(self, queue_id: int, company_id: int) -> Queue | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"""SELECT q.id, q.company_id, c.sip_domain, q.name, q.strategy, q.max_wait_s, q.max_callers,
                           q.agent_ring_s, q.wrap_up_s, q.announce_position_s, q.join_empty,
                           q.fallback_voicemail_box_id, q.pause_after_misses, q.offer_callback, c.region,
                           q.whisper, q.announce_wait, q.announce_position, {_prompt_columns("a", "announcement")},
                           {_prompt_columns("p", "music")},
                           coalesce((SELECT array_agg(ARRAY[employee_id, penalty] ORDER BY position, employee_id)
                                       FROM queue_members
                                      WHERE queue_id = q.id AND logged_in AND pause_reason IS NULL), '{{}}')
                               AS agents
                      FROM queues q JOIN companies c ON c.id = q.company_id
                      LEFT JOIN prompts p ON p.id = q.music_prompt_id
                      LEFT JOIN prompts a ON a.id = q.announce_prompt_id
                     WHERE q.id = %s AND q.company_id = %s""",
                    (queue_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        return Queue(
            row["id"],
            row["company_id"],
            row["sip_domain"],
            row["name"],
            row["strategy"],
            row["max_wait_s"],
            row["max_callers"],
            _prompt(row, "music"),
            tuple(agent for agent, _ in row["agents"]),
            row["agent_ring_s"],
            row["wrap_up_s"],
            row["announce_position_s"],
            row["join_empty"],
            row["fallback_voicemail_box_id"],
            row["pause_after_misses"],
            {agent: penalty for agent, penalty in row["agents"]},
            row["offer_callback"],
            row["region"].strip(),
            row["whisper"],
            row["announce_wait"],
            row["announce_position"],
            _prompt(row, "announcement"),
        )

    # ---- feature codes (routing/feature_codes.py) ------------------------------

    async def no_answer(self, employee_id: int, company_id: int) -> NoAnswerRule | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"""SELECT e.id, e.company_id, c.sip_domain, e.no_answer_rule, e.no_answer_notice,
                           {_prompt_columns("m", "message")}, {_prompt_columns("n", "notice")}
                      FROM employees e JOIN companies c ON c.id = e.company_id
                      LEFT JOIN prompts m ON m.id = e.no_answer_message_prompt_id
                      LEFT JOIN prompts n ON n.id = e.no_answer_notice_prompt_id
                     WHERE e.id = %s AND e.company_id = %s""",
                    (employee_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        return NoAnswerRule(
            row["id"],
            row["company_id"],
            row["sip_domain"],
            row["no_answer_rule"],
            _prompt(row, "message"),
            row["no_answer_notice"],
            _prompt(row, "notice"),
        )

    async def department(self, department_id: int, company_id: int) -> Department | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    """SELECT d.id, d.company_id, c.sip_domain, d.name, c.region
                      FROM departments d JOIN companies c ON c.id = d.company_id
                     WHERE d.id = %s AND d.company_id = %s""",
                    (department_id, company_id),
                )
            ).fetchone()
        if row is None:
            return None
        return Department(row["id"], row["company_id"], row["sip_domain"], row["name"], row["region"].strip())

    async def company_language(self, company_id: int) -> str:
        """The language of the standard prompts the company's callers hear."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT language FROM companies WHERE id = %s", (company_id,))).fetchone()
        return row["language"] if row else "ru"

    async def crm_events(self, company_id: int) -> tuple[str, str] | None:
        """Where the company's CRM takes call events, and the secret they are signed with."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT events_url, secret FROM crm_integrations WHERE company_id = %s AND events_url IS NOT NULL",
                    (company_id,),
                )
            ).fetchone()
        return (row["events_url"], row["secret"]) if row else None

    async def employee(self, employee_id: int, company_id: int) -> Employee | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    """SELECT e.id, e.company_id, c.sip_domain, e.extension, e.name
                     FROM employees e JOIN companies c ON c.id = e.company_id
                    WHERE e.id = %s AND e.company_id = %s""",
                    (employee_id, company_id),
                )
            ).fetchone()
        return Employee(row["id"], row["company_id"], row["sip_domain"], row["extension"], row["name"]) if row else None

    async def set_dnd(self, employee: Employee, on: bool) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE employees SET dnd = %s WHERE id = %s AND company_id = %s",
                (on, employee.id, employee.company_id),
            )

    async def set_forward_all(self, employee: Employee, number: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE employees SET forward_all = %s WHERE id = %s AND company_id = %s",
                (number, employee.id, employee.company_id),
            )

    async def queue_agents(self, queue_id: int) -> tuple[tuple[int, ...], dict[int, int]]:
        """The queue's agents logged in and not paused now, in its order, and their penalties."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    """SELECT employee_id, penalty FROM queue_members
                        WHERE queue_id = %s AND logged_in AND pause_reason IS NULL ORDER BY position, employee_id""",
                    (queue_id,),
                )
            ).fetchall()
        return tuple(r["employee_id"] for r in rows), {r["employee_id"]: r["penalty"] for r in rows}

    async def pause_agent(self, queue_id: int, employee_id: int, reason: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE queue_members SET pause_reason = %s WHERE queue_id = %s AND employee_id = %s",
                (reason, queue_id, employee_id),
            )

    async def set_agent_state(
        self, employee: Employee, *, logged_in: bool | None = None, pause: str | None = None, unpause: bool = False
    ) -> int:
        """Log the employee in or out of every queue of theirs, or pause or
        unpause them there; how many queues they are an agent of."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                """UPDATE queue_members m SET logged_in = coalesce(%(logged_in)s, m.logged_in),
                          pause_reason = CASE WHEN %(unpause)s THEN NULL ELSE coalesce(%(pause)s, m.pause_reason) END
                     FROM queues q
                    WHERE q.id = m.queue_id AND q.company_id = %(company)s AND m.employee_id = %(employee)s""",
                {
                    "logged_in": logged_in,
                    "pause": pause,
                    "unpause": unpause,
                    "company": employee.company_id,
                    "employee": employee.id,
                },
            )
        return cursor.rowcount

    async def messages_for(self, employee: Employee) -> list[Message]:
        """The messages of the boxes that are the employee's: the one their own
        no-answer rule leaves callers in, and those that name them as a
        recipient. New ones first, then the ones heard; oldest first in each."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    """SELECT m.id, m.file_name, m.caller, m.received_at, m.heard_at IS NOT NULL AS heard
                     FROM voicemail_messages m
                    WHERE m.company_id = %(company)s AND m.voicemail_box_id IN (
                          SELECT no_answer_voicemail_box_id FROM employees
                           WHERE id = %(employee)s AND no_answer_rule = 'voicemail'
                          UNION
                          SELECT voicemail_box_id FROM voicemail_recipients WHERE employee_id = %(employee)s)
                    ORDER BY m.heard_at IS NOT NULL, m.received_at, m.id""",
                    {"company": employee.company_id, "employee": employee.id},
                )
            ).fetchall()
        return [Message(r["id"], r["file_name"], r["caller"], r["received_at"], r["heard"]) for r in rows]

    async def mark_heard(self, message: Message, at: datetime) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE voicemail_messages SET heard_at = coalesce(heard_at, %s) WHERE id = %s", (at, message.id)
            )

    async def delete_messages_before(self, cutoff: datetime) -> int:
        """Messages received before ``cutoff`` deleted (their recordings are the sweeper's)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM voicemail_messages WHERE received_at < %s", (cutoff,))
        return cursor.rowcount

    async def delete_message(self, message: Message) -> bool:
        """Whether this call deleted it (another listener may have first)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("DELETE FROM voicemail_messages WHERE id = %s", (message.id,))
        return cursor.rowcount == 1
