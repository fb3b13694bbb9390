"""The OpenAPI description of the partner routes, written to match the partner's document.

Request bodies are validated by :mod:`validation` (for the partner's error format), so FastAPI is not given
body models; the schemas below describe the same rules for ``/openapi.json`` and for schemathesis.
"""

from __future__ import annotations

from typing import Any

from include.symphonics_sandbox.validation import DOCUMENT_TYPES, PHOTO_TYPES

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(max_length: int = 500) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"\S"}


_DATE_TIME = {"type": "string", "format": "date-time", "example": "2025-03-25T11:30:00Z"}
_FOURTEEN_DIGITS = {"type": "string", "pattern": r"^[0-9]{14}$"}
_URL = {"type": "string", "format": "uri", "pattern": r"^https?://[^\s/?#]+[^\s]*$", "maxLength": 2048}
_QUANTITY = {"type": "integer", "minimum": 1, "maximum": 10000}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_ADDRESS = _object(
    {
        "street": {"type": "string", "maxLength": 500},
        "postal_code": {"type": "string", "maxLength": 500},
        "city": {"type": "string", "maxLength": 500},
    },
    ["street", "postal_code", "city"],
)
_DOCUMENT = _object(
    {"type": {"type": "string", "enum": list(DOCUMENT_TYPES)}, "name": _text(), "url": _URL},
    ["type", "name", "url"],
)
_PHOTO = _object(
    {
        "type": {"type": "string", "enum": list(PHOTO_TYPES)},
        "url": _URL,
        "coordinates": _object(
            {
                "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            },
            ["latitude", "longitude"],
        ),
        "timestamp": _DATE_TIME,
    },
    ["type", "url", "coordinates", "timestamp"],
)
_NEXT_STEP = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "status": {"type": "string"},
        "estimated_completion": {"type": "string", "format": "date-time"},
    },
    "required": ["type", "status"],
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details", "request_id"],
                "properties": {
                    "code": {
                        "type": "string",
                        "enum": [
                            "INVALID_REQUEST",
                            "UNAUTHORIZED",
                            "FORBIDDEN",
                            "NOT_FOUND",
                            "CONFLICT",
                            "VALIDATION_ERROR",
                            "RATE_LIMITED",
                            "SERVER_ERROR",
                        ],
                    },
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        },
                    },
                    "request_id": {"type": "string", "pattern": "^req_[0-9a-f]{12}$"},
                },
            }
        },
    },
    "TokenRequest": {
        "type": "object",
        "required": ["grant_type", "client_id", "client_secret"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
        },
    },
    "TokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
        },
    },
    "Address": _ADDRESS,
    "PdlValidation": {
        "type": "object",
        "required": ["valid", "pdl", "address", "meter_type"],
        "properties": {
            "valid": {"type": "boolean", "enum": [True]},
            "pdl": {"type": "string"},
            "address": _ref("Address"),
            "meter_type": {"type": "string", "enum": ["electronic", "electromechanical"]},
        },
    },
    "PdlInvalid": {
        "type": "object",
        "required": ["valid", "error", "message"],
        "properties": {
            "valid": {"type": "boolean", "enum": [False]},
            "error": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "PdlLookupRequest": _object(
        {"address": _ref("Address"), "customer_name": {"type": "string", "maxLength": 500}},
        ["address", "customer_name"],
    ),
    "PdlLookupResponse": {
        "type": "object",
        "required": ["pdl", "confidence", "address", "meter_type"],
        "properties": {
            "pdl": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "address": _ref("Address"),
            "meter_type": {"type": "string", "enum": ["electronic", "electromechanical"]},
        },
    },
    "UserValidation": {
        "type": "object",
        "required": ["exists", "user_id", "status"],
        "properties": {
            "exists": {"type": "boolean", "enum": [True]},
            "user_id": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "inactive"]},
        },
    },
    "UserNotFound": {
        "type": "object",
        "required": ["exists", "message"],
        "properties": {"exists": {"type": "boolean", "enum": [False]}, "message": {"type": "string"}},
    },
    "Document": _DOCUMENT,
    "Photo": _PHOTO,
    "InterventionCreate": {
        **_object(
            {
                "customer": _object(
                    {
                        "first_name": _text(),
                        "last_name": _text(),
                        "email": {"type": "string", "format": "email", "maxLength": 254},
                        "phone": {"type": "string", "pattern": r"^\+[1-9]\d{6,14}$"},
                    },
                    ["first_name", "last_name", "email", "phone"],
                ),
                "installation": {
                    **_object(
                        {
                            "address": _text(),
                            "postal_code": {"type": "string", "pattern": r"^[0-9]{5}$"},
                            "city": _text(),
                            "pdl": _FOURTEEN_DIGITS,
                            "pce": _FOURTEEN_DIGITS,
                        },
                        ["address", "postal_code", "city"],
                    ),
                    "anyOf": [{"required": ["pdl"]}, {"required": ["pce"]}],
                },
                "services": {
                    "type": "array",
                    "maxItems": 100,
                    "items": _object(
                        {"code": _text(), "name": _text(), "quantity": _QUANTITY},
                        ["code", "name", "quantity"],
                    ),
                },
                "equipment": {
                    "type": "array",
                    "maxItems": 100,
                    "items": _object(
                        {"name": _text(), "model": _text(), "serial_number": _text(), "quantity": _QUANTITY},
                        ["name", "quantity"],
                    ),
                },
                "documents": {"type": "array", "maxItems": 100, "items": _ref("Document")},
                "photos": {"type": "array", "maxItems": 100, "items": _ref("Photo")},
                "installer": _object(
                    {"id": _text(), "company_id": _text(), "name": _text()}, ["id", "company_id", "name"]
                ),
                "completion_date": _DATE_TIME,
                "external_id": _text(100),
            },
            ["customer", "installation", "installer", "completion_date", "external_id"],
        )
    },
    "InterventionCreated": {
        "type": "object",
        "required": ["id", "status", "external_id", "created_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^sym_[0-9]{8}$"},
            "status": {"type": "string", "enum": ["created"]},
            "external_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "InterventionStatus": {
        "type": "object",
        "required": ["id", "external_id", "status", "created_at", "updated_at", "next_steps"],
        "properties": {
            "id": {"type": "string"},
            "external_id": {"type": "string"},
            "status": {"type": "string", "enum": ["created", "processing", "approved", "rejected"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "next_steps": {"type": "array", "items": _NEXT_STEP},
        },
    },
    "InterventionUpdate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["documents"],
        "properties": {
            "documents": {"type": "array", "minItems": 1, "maxItems": 100, "items": _ref("Document")},
        },
    },
    "InterventionUpdated": {
        "type": "object",
        "required": ["id", "status", "external_id", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["updated"]},
            "external_id": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Token from POST /auth/token"},
}

_RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed in the window"},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in the window"},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "When the window resets (Unix time)"},
}


def json_response(description: str, schema: str, *, rate_headers: bool = False) -> dict[str, Any]:
    """An OpenAPI response object with a JSON body.

    :param description: the response's description.
    :param schema: the component schema name of the body.
    :param rate_headers: whether the rate-limit headers are documented on it.
    """
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": _ref(schema)}}}
    if rate_headers:
        response["headers"] = dict(_RATE_HEADERS)
    return response


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response object in the documented error format.

    :param description: the response's description.
    """
    return json_response(description, "Error")


_COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_response("Authentication failed or token expired (UNAUTHORIZED)"),
    403: error_response("The client lacks permission (FORBIDDEN)"),
    413: error_response("Request body too large (INVALID_REQUEST)"),
    429: {
        **error_response("Too many requests (RATE_LIMITED)"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
    },
    500: error_response("Unexpected server error (SERVER_ERROR)"),
}


def responses(ok: dict[int | str, dict[str, Any]], *, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """A route's responses: its own, plus the errors any route may answer.

    :param ok: the route's own responses.
    :param authenticated: whether the route needs a bearer token (then 401/403 apply).
    """
    common = dict(_COMMON_ERRORS)
    if not authenticated:
        common.pop(403)
    return {**common, **ok}


def request_body(schema: str, media_type: str = JSON) -> dict[str, Any]:
    """An ``openapi_extra`` request body.

    :param schema: the component schema name.
    :param media_type: the body's media type.
    """
    return {"requestBody": {"required": True, "content": {media_type: {"schema": _ref(schema)}}}}


BEARER_SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}]}


def finish_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's generated document: our components, and none of FastAPI's own 422 models.

    :param document: what ``fastapi.openapi.utils.get_openapi`` produced.
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    if not schemas:
        components.pop("schemas")
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in list(operation.get("responses", {}).items()):
                schema = response.get("content", {}).get(JSON, {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    del operation["responses"][status]
    return document
