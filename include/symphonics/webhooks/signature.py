"""``X-Symphonics-Signature``: lowercase hex HMAC-SHA256 of the exact body bytes under the shared secret.

The header carries the bare hex digest, no ``sha256=`` prefix (as the sandbox, written from the partner's
document, sends it). Comparison is constant-time, and every configured secret is tried so a rotation loses
nothing: the partner switches to the new secret at its own pace while the previous one is still accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Symphonics-Signature"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def sign(body: bytes, secret: bytes) -> str:
    """The signature of ``body`` under ``secret``, as the partner computes it.

    :param body: the exact body bytes.
    :param secret: the shared secret, encoded.
    """
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def well_formed(header: str | None) -> bool:
    """Whether a header value can be a signature at all (64 hex digits), checked before reading the body.

    :param header: the header value, or None when absent.
    """
    return header is not None and _HEX_DIGEST.fullmatch(header.strip()) is not None


def matching_secret(body: bytes, header: str, secrets: list[tuple[str, bytes]]) -> str | None:
    """The label of the secret that signed ``body``, or None when none did.

    Every secret is compared, even after a match, so the time taken does not tell which one matched.

    :param body: the exact body bytes.
    :param header: the ``X-Symphonics-Signature`` value.
    :param secrets: ``(label, secret)`` pairs, current first.
    """
    given = header.strip().lower().encode("ascii", "replace")
    matched: str | None = None
    for label, secret in secrets:
        expected = sign(body, secret).encode("ascii")
        if hmac.compare_digest(expected, given) and matched is None:
            matched = label
    return matched
