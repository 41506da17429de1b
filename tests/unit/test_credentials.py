from vpbx.config.credentials import generate_password, ha1, ha1b


def test_ha1_matches_rfc2617_example():
    # RFC 2617, section 3.5.
    assert ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"


def test_ha1b_hashes_the_user_at_domain_form():
    assert ha1b("101", "demo.vpbx.test", "pw") == ha1("101@demo.vpbx.test", "demo.vpbx.test", "pw")


def test_generated_passwords_are_long_unique_and_unambiguous():
    passwords = {generate_password() for _ in range(2000)}

    assert len(passwords) == 2000
    assert all(len(p) == 20 and p.isalnum() for p in passwords)
    assert not set("Il1O0o") & set("".join(passwords))
