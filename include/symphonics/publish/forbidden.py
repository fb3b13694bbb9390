"""A 403 refuses one resource; a run of them on distinct resources refuses the account.

The partner's 403 ("the authenticated user lacks permission") may concern one PDL, one installer or one
intervention, or the whole account. The client reports each as :class:`SymphonicsForbidden`; the steps set the
row aside (``dead_letter``, ``partner_forbidden``) and go on, until ``limit`` consecutive 403s on distinct
resources, with no other answer between them, show that the account is refused: then the step stops as for a
refused token (:class:`SymphonicsAuthError`), gives back what it claimed, and an alert is raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from include.symphonics.client import SymphonicsAuthError, SymphonicsForbidden


@dataclass
class ForbiddenStreak:
    """The distinct resources refused (403) since the partner last answered anything else.

    :param limit: how many distinct resources refused in a row make the account refused (at least 1).
    """

    limit: int
    #: The resources of the current streak, in order (kept in memory only: they may be PDLs or e-mails).
    resources: list[str] = field(default_factory=list)

    def forbidden(self, resource: str, error: SymphonicsForbidden) -> SymphonicsAuthError | None:
        """Count a 403 on ``resource``; the account's refusal once the streak reaches the limit, else None.

        :param resource: what was refused (a row's external id, ``pdl:…``, ``user:…``).
        :param error: the client's error, whose request id the account's refusal quotes.
        """
        if resource not in self.resources:
            self.resources.append(resource)
        if len(self.resources) < max(self.limit, 1):
            return None
        return SymphonicsAuthError(
            f"Symphonics refused {len(self.resources)} distinct resources in a row (403): the account lacks "
            "permission, not the rows",
            status=403,
            code=error.code or "FORBIDDEN",
            request_id=error.request_id,
        )

    def answered(self) -> None:
        """The partner answered something else: the account has access, the streak ends."""
        self.resources.clear()
