"""The Symphonics partner API client: plain Python (requests), no Airflow import.

Usage::

    from include.symphonics.client import ClientSettings, SymphonicsClient

    client = SymphonicsClient.with_shared_state(
        ClientSettings(base_url="https://api.symphonics.fr", client_id="...", client_secret="..."),
        dsn="postgresql:///sync",
        cipher=Fernet(key),
    )
    result = client.validate_pdl("12345678901234", priority="publish")

Every error it raises says whether it is ``retryable`` and whether ``nothing_sent``; a :class:`CallGuard`
(kill switch, run budget) given to it refuses calls before anything leaves.

See ``docs/CLIENT.md``.
"""

from __future__ import annotations

from include.symphonics.client.auth import (
    AccessToken,
    Cipher,
    InMemoryTokenStore,
    OAuth2ClientCredentials,
    PostgresTokenStore,
    TokenStore,
)
from include.symphonics.client.breaker import SymphonicsBreaker
from include.symphonics.client.calllog import (
    ApiCall,
    CallRecorder,
    MemoryCallRecorder,
    NullCallRecorder,
    PostgresCallRecorder,
    RunContext,
)
from include.symphonics.client.client import ClientSettings, SymphonicsClient, require_secure_url
from include.symphonics.client.errors import (
    BreakerOpen,
    CallBudgetSpent,
    CallRefused,
    InsecureURLError,
    KillSwitchOn,
    QuotaBusy,
    QuotaExhausted,
    SymphonicsAuthError,
    SymphonicsConflict,
    SymphonicsError,
    SymphonicsForbidden,
    SymphonicsNotFound,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
    SymphonicsValidationError,
    TransientSymphonicsError,
)
from include.symphonics.client.guard import CallGuard, RunBudget
from include.symphonics.client.models import (
    Address,
    CreateOutcome,
    CreateResult,
    Intervention,
    InterventionUpdate,
    NextStep,
    PdlLookup,
    PdlValidation,
    UserValidation,
)
from include.symphonics.client.ratelimit import InMemoryQuotaStore, PostgresQuotaStore, QuotaLimiter
from include.symphonics.client.retry import RetryPolicy, parse_retry_after
from include.symphonics.core.quota_policy import OPS, PRIORITY_CLASSES, PUBLISH, RECONCILE, ClassQuota, QuotaPolicy

__all__ = [
    "OPS",
    "PRIORITY_CLASSES",
    "PUBLISH",
    "RECONCILE",
    "AccessToken",
    "Address",
    "ApiCall",
    "BreakerOpen",
    "CallBudgetSpent",
    "CallGuard",
    "CallRecorder",
    "CallRefused",
    "Cipher",
    "ClassQuota",
    "ClientSettings",
    "CreateOutcome",
    "CreateResult",
    "InMemoryQuotaStore",
    "InMemoryTokenStore",
    "InsecureURLError",
    "Intervention",
    "InterventionUpdate",
    "KillSwitchOn",
    "MemoryCallRecorder",
    "NextStep",
    "NullCallRecorder",
    "OAuth2ClientCredentials",
    "PdlLookup",
    "PdlValidation",
    "PostgresCallRecorder",
    "PostgresQuotaStore",
    "PostgresTokenStore",
    "QuotaBusy",
    "QuotaExhausted",
    "QuotaLimiter",
    "QuotaPolicy",
    "RetryPolicy",
    "RunBudget",
    "RunContext",
    "SymphonicsAuthError",
    "SymphonicsBreaker",
    "SymphonicsClient",
    "SymphonicsConflict",
    "SymphonicsError",
    "SymphonicsForbidden",
    "SymphonicsNotFound",
    "SymphonicsRateLimited",
    "SymphonicsUnavailable",
    "SymphonicsValidationError",
    "TokenStore",
    "TransientSymphonicsError",
    "UserValidation",
    "parse_retry_after",
    "require_secure_url",
]
