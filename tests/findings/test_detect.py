"""Finding credentials inside a value: URLs with userinfo in any scheme pip takes, percent-encoded passwords, a
token alone as the userinfo, and a known token without a URL; excerpts never hold the credential."""

from __future__ import annotations

from core import crypto
from findings.detect import candidates, credential_urls


def test_a_url_with_user_and_password_yields_the_decoded_password_and_a_redacted_excerpt(db: None) -> None:
    (found,) = credential_urls("https://build:p%40ss%3Aw%2Frd@pkgs.example.com:8443/a/simple/")
    assert found.secret == "p@ss:w/rd" and found.host == "pkgs.example.com" and found.path == "/a/simple/"
    assert found.excerpt == "https://build:***@pkgs.example.com:8443/a/simple/"
    assert found.fingerprint == crypto.fingerprint("p@ss:w/rd")


def test_a_token_alone_in_the_userinfo_is_the_secret_and_is_hidden_whole(db: None) -> None:
    (found,) = credential_urls("--extra-index-url git+https://ghp_abcdef123456@host.test/x")
    assert found.secret == "ghp_abcdef123456" and found.excerpt == "git+https://***@host.test/x"


def test_an_unencoded_at_sign_in_the_password_does_not_leak_into_the_host(db: None) -> None:
    (found,) = credential_urls("https://user:p@ss@h.io/simple")
    assert (found.secret, found.host) == ("p@ss", "h.io") and "ss@" not in found.excerpt


def test_urls_without_credentials_and_secret_references_are_not_findings(db: None) -> None:
    assert candidates("https://pypi.org/simple/ {{secrets/scope/key}} user@example.com", lambda fp: False) == []


def test_a_known_token_without_a_url_is_found_and_its_neighbours_are_not_shown(db: None) -> None:
    token = "s3cr3t-token-value"
    known = {crypto.fingerprint(token)}
    (found,) = candidates(f"--password={token} --other=keepmeprivate", known.__contains__)
    assert (found.kind, found.secret, found.excerpt) == ("token_match", token, "...***...")
    assert "keepmeprivate" not in found.excerpt
