"""Seed 004: a new employee with an email address gets their SIP account's
details by email, at a real SMTP server, and a phone set up from that email
alone registers."""

from __future__ import annotations

import re

from . import sip_log
from .sipp import Sipp, free_udp_port


def test_a_new_employee_registers_a_phone_with_what_the_welcome_email_says(api, sip_target, mailbox):
    status, quiet = api(
        "POST",
        "/employees",
        {
            "name": "Set Up By Admin",
            "extension": "187",
            "email": "admin-sets-up@example.com",
            "send_welcome_email": False,
        },
    )
    assert status == 201 and quiet["welcome_email_to"] is None, quiet
    status, olga = api("POST", "/employees", {"name": "Olga", "extension": "188", "email": "olga@example.com"})
    try:
        assert status == 201 and olga["welcome_email_to"] == "olga@example.com", olga
        mail = mailbox.wait_for(lambda m: m["To"] == "olga@example.com")
        body = mail.message.get_content()
        assert mail.message["Date"] and mail.message["Message-ID"]
        assert "extension 188" in mail.message["Subject"]
        said = dict(re.findall(r"^  ([A-Za-z /]+):\s+(\S+)", body, re.M))
        assert said["SIP server / domain"] == "demo.vpbx.test"
        assert said["Password"] == olga["sip_password"]
        assert not any(m["To"] == "admin-sets-up@example.com" for m in (x.message for x in mailbox.messages))

        registration = Sipp(
            "register.xml",
            port=free_udp_port(),
            remote=said["Outbound proxy"],
            service=said["User name"],
            auth=(said["Authentication name"], said["Password"]),
            keys={"domain": said["SIP server / domain"], "contact_port": free_udp_port()},
        ).run()
        assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200
        assert said["Outbound proxy"] == sip_target
    finally:
        api("DELETE", f"/employees/{olga['id']}")
        api("DELETE", f"/employees/{quiet['id']}")
