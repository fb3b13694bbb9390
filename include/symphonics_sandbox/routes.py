"""The partner's routes: their names, and how a request path is matched to one.

Route names are what configuration refers to (``allowed_routes``, fault selectors), so they are defined once
here and matched without going through FastAPI's router, which the gateway runs before.
"""

from __future__ import annotations

TOKEN_ROUTE = "auth.token"  # noqa: S105 - a route name, not a credential
PDL_ROUTE = "validation.pdl"
PDL_LOOKUP_ROUTE = "validation.pdl_lookup"
USER_ROUTE = "validation.user"
CREATE_INTERVENTION_ROUTE = "crm.create_intervention"
GET_INTERVENTION_ROUTE = "crm.get_intervention"
UPDATE_INTERVENTION_ROUTE = "crm.update_intervention"

PARTNER_ROUTE_NAMES: tuple[str, ...] = (
    TOKEN_ROUTE,
    PDL_ROUTE,
    PDL_LOOKUP_ROUTE,
    USER_ROUTE,
    CREATE_INTERVENTION_ROUTE,
    GET_INTERVENTION_ROUTE,
    UPDATE_INTERVENTION_ROUTE,
)

#: Path prefix of the sandbox's own admin API; nothing of the partner lives under it.
ADMIN_PREFIX = "/_sandbox"


def match_partner_route(method: str, path: str) -> str | None:
    """Name the partner route a request is for, or None when it is for no documented route.

    :param method: the HTTP method, upper case.
    :param path: the decoded request path.
    :return: the route name, e.g. ``"validation.pdl"``.
    """
    parts = path.split("/")
    # parts[0] is the empty string before the leading slash.
    if len(parts) == 3 and parts[1] == "auth" and parts[2] == "token":
        return TOKEN_ROUTE if method == "POST" else None
    if len(parts) == 4 and parts[1] == "validation":
        if parts[2] == "pdl":
            if method == "POST" and parts[3] == "lookup":
                return PDL_LOOKUP_ROUTE
            return PDL_ROUTE if method == "GET" and parts[3] else None
        if parts[2] == "user":
            return USER_ROUTE if method == "GET" and parts[3] else None
        return None
    if len(parts) >= 3 and parts[1] == "crm" and parts[2] == "interventions":
        if len(parts) == 3:
            return CREATE_INTERVENTION_ROUTE if method == "POST" else None
        if len(parts) == 4 and parts[3]:
            if method == "GET":
                return GET_INTERVENTION_ROUTE
            if method == "PATCH":
                return UPDATE_INTERVENTION_ROUTE
    return None


def selector_matches(route: str, selector: str) -> bool:
    """Tell whether a route name is covered by a selector from configuration.

    A selector is ``"*"`` (every partner route), a full route name (``"crm.create_intervention"``) or a
    dotted prefix of names (``"crm"``, ``"validation"``).

    :param route: a route name from :data:`PARTNER_ROUTE_NAMES`.
    :param selector: the selector to test.
    """
    return selector == "*" or route == selector or route.startswith(selector + ".")


def is_valid_selector(selector: str) -> bool:
    """Tell whether a selector covers at least one partner route (so a typo is refused, not ignored).

    :param selector: the selector to check.
    """
    return any(selector_matches(route, selector) for route in PARTNER_ROUTE_NAMES)
