"""Every admin API example in the README, run as written against the test
stack, in order, in one shell: each answers 2xx, or the status its comment
documents (``# 202 {...}``), with the fields the comment shows. The README
cannot drift from the API unnoticed.

The examples change the demo company (an office schedule, the CRM's rule and
client list, an employee's no-answer rule, a click-to-call): what they change is put back afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from vpbx.api import crm
from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
# Where each example's answer starts in the shell's output, and its status after it.
MARK = "@@README-EXAMPLE@@"
CLIENT = "+79161234567"  # the client the CRM example pushes
CRM_SETTINGS = crm.SETTINGS
RULE_OF = 2  # the employee whose no-answer rule an example sets


def _examples() -> str:
    """The README's shell blocks that call the admin API, in order, as one script."""
    blocks = [block for block in BLOCK.findall(README.read_text()) if re.search(r"^api[ (]", block, re.M)]
    assert blocks, "the README shows no admin API example"
    return "\n".join(blocks)


def _documented(script: str) -> list[tuple[int, dict] | None]:
    """For each api call of the script, the status and fields its comment documents, if any."""
    lines = script.splitlines()
    calls = [i for i, line in enumerate(lines) if re.match(r"^api\s", line)]
    documented: list[tuple[int, dict] | None] = []
    for n, start in enumerate(calls):
        end = calls[n + 1] if n + 1 < len(calls) else len(lines)
        comment = next((m for line in lines[start + 1 : end] if (m := re.match(r"^# (\d{3}) (\{.*\})$", line))), None)
        documented.append((int(comment.group(1)), json.loads(comment.group(2))) if comment else None)
    return documented


@pytest.fixture
def restored(api):
    """The demo company as the examples found it."""
    crm_status, crm_before = api("GET", "/crm")
    client_status, _ = api("GET", f"/crm/clients/{CLIENT}")
    schedules_before = {s["id"] for s in api("GET", "/schedules")[1]}
    rule_status, employee_before = api("GET", f"/employees/{RULE_OF}")
    assert rule_status == 200, employee_before
    yield
    api("PATCH", f"/employees/{RULE_OF}", {"no_answer": employee_before["no_answer"]})
    if crm_status == 404:
        api("DELETE", "/crm")
    else:
        api("PUT", "/crm", {k: v for k, v in crm_before.items() if k in CRM_SETTINGS})
    if client_status == 404:
        api("DELETE", f"/crm/clients/{CLIENT}")
    for schedule in api("GET", "/schedules")[1]:
        if schedule["id"] not in schedules_before:
            api("DELETE", f"/schedules/{schedule['id']}")


def test_every_admin_api_example_in_the_readme_answers_as_documented(stack, no_registrations, restored):
    script = _examples()
    documented = _documented(script)
    # As written, but at the test stack: its run directory and its sidecar's port.
    script = script.replace(".run/dev/", f"{stack.run_dir}/").replace(
        "localhost:8080", f"127.0.0.1:{stack.ports.sidecar}"
    )
    # The README's own api(), with each answer's status after its body.
    shell = re.sub(
        r"^api\(\) \{ curl -s (.*); \}$",
        rf"""api() {{ echo '{MARK}'; curl -s -w '\\n%{{http_code}}\\n' \1; }}""",
        script,
        flags=re.M,
    )
    assert shell != script, "the README's api() is not where the examples define it"

    result = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    answers = [(["", *chunk.strip().rsplit("\n", 1)])[-2:] for chunk in result.stdout.split(MARK)[1:]]
    assert len(answers) == len(documented), result.stdout
    for (body, status), expected in zip(answers, documented, strict=True):
        if expected is None:
            assert status.startswith("2"), (status, body)
            continue
        code, fields = expected
        assert int(status) == code, (status, body)
        answer = json.loads(body)
        # The comment's fields, with "…" standing for any text.
        for name, value in fields.items():
            if isinstance(value, str) and "…" in value:
                assert re.fullmatch(re.escape(value).replace("…", ".+"), str(answer[name])), (name, answer)
            else:
                assert answer[name] == value, (name, answer)
    # The click-to-call rang nobody (no phone registered) and is over.
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 40, "the click-to-call to end")
