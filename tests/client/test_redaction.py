"""Masking of personal data and removal of secrets."""

from __future__ import annotations

import logging

import pytest

from include.symphonics.client.errors import SymphonicsError
from include.symphonics.core.redaction import (
    get_logger,
    mask_email,
    mask_path,
    mask_pdl,
    redact,
    register_secret,
)


def test_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("thomas.martin@example.com") == "t***@example.com"
    assert mask_email("contact: a.b+c@mail.example.fr.") == "contact: a***@mail.example.fr."


def test_pdl_keeps_four_digits_each_side() -> None:
    assert mask_pdl("12345678901234") == "1234******1234"
    # Other digit runs are not PDLs.
    assert mask_pdl("1700000000123") == "1700000000123"
    assert mask_pdl("123456789012345") == "123456789012345"


def test_paths_are_masked_even_when_url_encoded() -> None:
    assert mask_path("/validation/pdl/12345678901234") == "/validation/pdl/1234******1234"
    assert mask_path("/validation/user/test.user%40example.com") == "/validation/user/t***@example.com"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9.abc.def"),
        ('{"access_token": "tok-123456789", "expires_in": 3600}', "tok-123456789"),
        ("grant_type=client_credentials&client_id=x&client_secret=s3cr3t-value", "s3cr3t-value"),
    ],
)
def test_tokens_and_secrets_are_removed(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_registered_secrets_are_removed_anywhere() -> None:
    register_secret("a-registered-secret-value")
    assert "a-registered-secret-value" not in redact("failed with a-registered-secret-value in the body")


def test_exception_messages_are_redacted() -> None:
    error = SymphonicsError("user thomas.martin@example.com with PDL 12345678901234 refused")
    assert "thomas.martin@example.com" not in str(error)
    assert "12345678901234" not in str(error)
    assert "t***@example.com" in str(error)


def test_logger_filter_redacts_arguments(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("include.symphonics.client.test_redaction")
    with caplog.at_level(logging.INFO):
        log.info("looked up %s for %s", "12345678901234", "thomas.martin@example.com")
    assert caplog.messages == ["looked up 1234******1234 for t***@example.com"]
