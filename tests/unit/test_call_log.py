"""The call decision lines: greppable by Call-ID in text and in JSON, and the
site's choice of JSON reaching every process, Kamailio included."""

import dataclasses
import io
import json
import logging

import pytest

from vpbx import call_log
from vpbx.stack import site
from vpbx.stack.profile import profile
from vpbx.stack.services import Kamailio


@pytest.fixture(autouse=True)
def text_again():
    yield
    call_log.set_format(call_log.TEXT)


def test_a_text_line_is_key_value_with_the_call_id_first_and_odd_values_quoted():
    line = call_log.line("rejected", "a1b2@10.0.0.1", code=404, reason="Not Found", lookups=None)

    assert line == 'callid=a1b2@10.0.0.1 event=rejected code=404 reason="Not Found"'


def test_a_json_line_carries_callid_as_kamailio_s_own_json_does():
    call_log.set_format(call_log.JSON)
    call_id = 'odd"call\\id@host'

    line = call_log.line("missed", call_id, reason="busy", code=486)

    assert json.loads(line) == {"callid": call_id, "event": "missed", "reason": "busy", "code": 486}
    assert '"callid": ' in line  # Kamailio writes the key with this spacing too


def test_a_json_process_logs_decisions_as_fields_and_other_records_as_messages():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(call_log.JsonLines("media-app"))
    logger = logging.getLogger("test.call_log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        call_log.decided(logger, "answered", "c@h", node="ivr-4", company_id="1")
        logger.warning("rtpengine is slow")
    finally:
        logger.removeHandler(handler)

    decision, other = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (decision["component"], decision["callid"], decision["event"], decision["node"]) == (
        "media-app",
        "c@h",
        "answered",
        "ivr-4",
    )
    assert (other["level"], other["message"]) == ("WARNING", "rtpengine is slow")


def test_a_site_that_logs_json_starts_kamailio_with_its_json_engine(tmp_path):
    test_profile = dataclasses.replace(profile("test"), run_dir=tmp_path)
    site.render(test_profile)
    assert call_log.KAMAILIO_JSON_ENGINE not in Kamailio(test_profile).argv()
    assert "#!define VPBX_LOG_JSON" not in (tmp_path / "kamailio" / "kamailio.cfg").read_text()

    config = test_profile.config_path.read_text().replace('format = "text"', 'format = "json"')
    test_profile.config_path.write_text(config)
    site.render(test_profile)  # the operator's choice is kept

    assert call_log.KAMAILIO_JSON_ENGINE in Kamailio(test_profile).argv()
    assert "#!define VPBX_LOG_JSON" in (tmp_path / "kamailio" / "kamailio.cfg").read_text()
