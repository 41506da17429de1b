"""The TLS certificate Kamailio presents: generated for the listening address
unless the operator names one, and an operator's choice kept across renders."""

import dataclasses
import ssl

import pytest

from vpbx import settings
from vpbx.stack import site
from vpbx.stack.profile import profile


@pytest.fixture
def test_profile(tmp_path):
    return dataclasses.replace(profile("test"), run_dir=tmp_path)


def test_without_a_named_certificate_a_self_signed_one_is_made_for_the_listening_address(test_profile):
    site.render(test_profile)
    tls = settings.load(test_profile.config_path).sip_tls
    assert tls is not None and (tls.certificate, tls.private_key) == site.self_signed_pair(test_profile)

    site.ensure_tls_pair(test_profile, tls.certificate, tls.private_key)

    context = ssl.create_default_context(cafile=str(tls.certificate))
    assert context.get_ca_certs()[0]["subjectAltName"] == (("IP Address", test_profile.address),)
    assert oct(tls.private_key.stat().st_mode & 0o777) == "0o640"
    kamailio_tls = (test_profile.run_dir / "kamailio" / "tls.cfg").read_text()
    assert f"certificate = {tls.certificate}\n" in kamailio_tls and "method = TLSv1.2+" in kamailio_tls


def test_a_named_certificate_is_kept_across_renders_and_never_generated_over(test_profile, tmp_path):
    site.render(test_profile)
    config = test_profile.config_path.read_text()
    own_certificate, own_key = tmp_path / "site.crt", tmp_path / "site.key"
    generated_certificate, generated_key = site.self_signed_pair(test_profile)
    test_profile.config_path.write_text(
        config.replace(str(generated_certificate), str(own_certificate)).replace(str(generated_key), str(own_key))
    )

    site.render(test_profile)

    tls = settings.load(test_profile.config_path).sip_tls
    assert tls is not None and (tls.certificate, tls.private_key) == (own_certificate, own_key)
    assert f"certificate = {own_certificate}\n" in (test_profile.run_dir / "kamailio" / "tls.cfg").read_text()
    with pytest.raises(FileNotFoundError, match=r"\[sip.tls\]"):
        site.ensure_tls_pair(test_profile, tls.certificate, tls.private_key)
    assert not own_certificate.exists() and not generated_certificate.exists()
