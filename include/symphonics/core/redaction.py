"""Masking of secrets and personal data in log lines and exception messages.

Masks are partial on purpose: ``t***@example.com`` and ``1234******1234`` still let an operator match a log
line with a record, while the full e-mail or PDL (personal data) never reaches a log store. Tokens and secrets
are removed entirely.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*(@|%40)([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
# A PDL is 14 digits; longer digit runs (timestamps in ms, ids) are left alone.
_PDL = re.compile(r"(?<!\d)(\d{4})\d{6}(\d{4})(?!\d)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
# ``key=value`` in form bodies and ``"key": "value"`` in JSON.
_SECRET_FIELD = re.compile(
    r"(?i)(\"?(?:access_token|refresh_token|client_secret|password|secret|webhook_secret|authorization)\"?"
    r"\s*[:=]\s*\"?)([^\"&,\s}]+)"
)

#: What a removed secret is replaced with.
REDACTED = "***"

_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (client secret, access token) so it is removed wherever it appears.

    :param value: the secret; short values are ignored because masking them would mangle ordinary text.
    """
    if value and len(value) >= 8:
        _known_secrets.add(value)


def mask_email(email: str) -> str:
    """``thomas.martin@example.com`` -> ``t***@example.com``.

    :param email: an e-mail address (URL-encoded ``%40`` is accepted).
    """
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(3)}", email)


def mask_pdl(pdl: str) -> str:
    """``12345678901234`` -> ``1234******1234``.

    :param pdl: a PDL, or any text holding 14-digit runs.
    """
    return _PDL.sub(lambda m: f"{m.group(1)}******{m.group(2)}", pdl)


def mask_path(path: str) -> str:
    """A request path fit for a log line or the ``api_calls`` table: e-mails and PDLs masked.

    :param path: the request path, possibly URL-encoded.
    """
    return mask_pdl(mask_email(unquote(path)))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove tokens and secrets from ``text`` and mask e-mails and PDLs.

    :param text: a log message or exception message.
    :param secrets: more literal values to remove, besides the registered ones.
    """
    for secret in (*_known_secrets, *secrets):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return mask_pdl(mask_email(text))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it sees.

    Attached to the client's loggers as a second line of defence: the client already logs masked values.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted before any handler sees them.

    :param name: the logger name (the module's ``__name__``).
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
