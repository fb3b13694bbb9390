"""The partner's documented routes: auth, validation and CRM.

The gateway has already authenticated the caller, counted it against its rate limits and applied faults;
these handlers read and check the body, and answer the documented shapes.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from include.symphonics_sandbox.auth import authenticate_client, issue_token
from include.symphonics_sandbox.errors import FieldProblem, SandboxError
from include.symphonics_sandbox.gateway import request_context
from include.symphonics_sandbox.lifecycle import next_steps
from include.symphonics_sandbox.openapi_document import (
    BEARER_SECURITY,
    error_response,
    json_response,
    request_body,
    responses,
)
from include.symphonics_sandbox.reference_data import (
    POSTAL_CODE_PATTERN,
    check_pdl,
    find_user,
    is_well_formed_email,
    lookup_confidence,
    meter_type_for,
    pdl_for_address,
)
from include.symphonics_sandbox.routes import (
    CREATE_INTERVENTION_ROUTE,
    GET_INTERVENTION_ROUTE,
    PDL_LOOKUP_ROUTE,
    PDL_ROUTE,
    TOKEN_ROUTE,
    UPDATE_INTERVENTION_ROUTE,
    USER_ROUTE,
)
from include.symphonics_sandbox.runtime import SandboxRuntime
from include.symphonics_sandbox.state import Intervention
from include.symphonics_sandbox.validation import (
    validate_create_intervention,
    validate_pdl_lookup,
    validate_update_intervention,
)
from include.symphonics_sandbox.webhooks import iso_seconds

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
VALIDATION_FAILED = "The request data failed validation"


def _runtime(request: Request) -> SandboxRuntime:
    runtime: SandboxRuntime = request.app.state.runtime
    return runtime


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, runtime: SandboxRuntime) -> bytes:
    """Read the request body within the size limit, un-gzipping it when the sandbox accepts gzip.

    :param request: the request.
    :param runtime: the running sandbox.
    :raises SandboxError: 413 over ``max_body_bytes`` (compressed or not); 400 for a content encoding the
        sandbox does not accept, or a corrupt gzip stream.
    """
    config = runtime.config
    limit = config.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    too_large = False
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_large = True  # keep reading (and dropping) so the client gets the 413, not a broken pipe
        elif chunk:
            chunks.append(chunk)
    if too_large:
        raise SandboxError(413, f"Request body larger than {limit} bytes")
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip" or not config.accept_gzip:
        raise SandboxError(
            400,
            f"Content-Encoding {encoding!r} is not accepted; send an uncompressed body",
            [FieldProblem("Content-Encoding", "Not accepted")],
        )
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = decompressor.decompress(body, limit + 1)
        if len(inflated) <= limit and not decompressor.eof:
            inflated += decompressor.flush()
    except zlib.error as exc:
        raise SandboxError(400, "Corrupt gzip body", [FieldProblem("body", "Invalid gzip stream")]) from exc
    if len(inflated) > limit:
        raise SandboxError(413, f"Request body larger than {limit} bytes once decompressed")
    if not decompressor.eof:
        raise SandboxError(400, "Corrupt gzip body", [FieldProblem("body", "Truncated gzip stream")])
    return inflated


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, runtime: SandboxRuntime) -> Any:
    """Read and parse a JSON request body.

    :param request: the request.
    :param runtime: the running sandbox.
    :raises SandboxError: 400 for a media type other than JSON or malformed JSON (NaN and Infinity are not
        JSON), plus the errors of :func:`read_body`.
    """
    media_type = _media_type(request)
    body = await read_body(request, runtime)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise SandboxError(
            400,
            "Content-Type must be application/json",
            [FieldProblem("Content-Type", "Must be application/json")],
        )
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise SandboxError(400, "Malformed JSON body", [FieldProblem("body", "Not valid JSON")]) from exc


def _validation_error(problems: list[FieldProblem]) -> SandboxError:
    message = VALIDATION_FAILED
    if len(problems) == 1 and problems[0].message.endswith("must be 14 digits"):
        # The document's own example: "Invalid PDL format" with the field detail below it.
        message = f"Invalid {problems[0].message.split(' ', 1)[0]} format"
    return SandboxError(422, message, problems)


router = APIRouter()


@router.post(
    "/auth/token",
    name=TOKEN_ROUTE,
    summary="Obtain an access token (OAuth 2.0 client credentials)",
    tags=["Authentication"],
    openapi_extra=request_body("TokenRequest", FORM_MEDIA_TYPE),
    responses=responses(
        {
            200: json_response("Access token", "TokenResponse"),
            400: error_response("Malformed request or unsupported grant type (INVALID_REQUEST)"),
        },
        authenticated=False,
    ),
)
async def obtain_token(request: Request) -> JSONResponse:
    """Exchange client credentials (form-encoded) for a bearer token."""
    runtime = _runtime(request)
    config = runtime.config
    context = request_context(request)
    body = await read_body(request, runtime)
    if _media_type(request) != FORM_MEDIA_TYPE:
        raise SandboxError(
            400,
            f"Content-Type must be {FORM_MEDIA_TYPE}",
            [FieldProblem("Content-Type", f"Must be {FORM_MEDIA_TYPE}")],
        )
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SandboxError(400, "Malformed form body", [FieldProblem("body", "Not a valid form")]) from exc
    fields = {name: values[0] for name, values in form.items() if values}
    problems = [
        FieldProblem(name, "Field required")
        for name in ("grant_type", "client_id", "client_secret")
        if not fields.get(name)
    ]
    if problems:
        raise SandboxError(400, "Missing required parameter(s)", problems)
    if fields["grant_type"] != "client_credentials":
        raise SandboxError(
            400,
            "Unsupported grant_type",
            [FieldProblem("grant_type", "Only client_credentials is supported")],
        )
    client = authenticate_client(config, fields["client_id"], fields["client_secret"])
    context.client_id = client.client_id
    if config.count_token_requests:
        decision = runtime.limiter.hit(
            client.client_id,
            client.rate_limit_per_minute or config.rate_limit_per_minute,
            client.rate_limit_per_day or config.rate_limit_per_day,
            config.time_scale,
            time.time(),
        )
        context.rate = decision
        if not decision.allowed:
            raise SandboxError(429, f"Rate limit exceeded: {decision.limit} requests per period")
    issued = issue_token(runtime.store, config, client)
    return JSONResponse(
        {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _refuse_if_forbidden(runtime: SandboxRuntime, resource: str) -> None:
    """Answer 403 for a resource a ``forbidden`` fault names (see ``faults.py``)."""
    if runtime.faults.forbids(resource):
        raise SandboxError(403, "The authenticated user lacks permission")


@router.get(
    "/validation/pdl/{pdl}",
    name=PDL_ROUTE,
    summary="Validate a PDL (Point de Livraison) number",
    tags=["Validation"],
    openapi_extra=BEARER_SECURITY,
    responses=responses(
        {
            200: json_response("The PDL is valid", "PdlValidation", rate_headers=True),
            400: json_response("The PDL is malformed or unknown", "PdlInvalid"),
        }
    ),
)
async def validate_pdl(request: Request, pdl: str) -> JSONResponse:
    """Validate a PDL: 200 with its address and meter type, or 400 with ``valid: false``."""
    _refuse_if_forbidden(_runtime(request), pdl)
    answer = check_pdl(pdl)
    return JSONResponse(answer.body, status_code=200 if answer.valid else 400)


@router.post(
    "/validation/pdl/lookup",
    name=PDL_LOOKUP_ROUTE,
    summary="Look up a PDL by address and customer name",
    tags=["Validation"],
    openapi_extra={**BEARER_SECURITY, **request_body("PdlLookupRequest")},
    responses=responses(
        {
            200: json_response("The PDL found at the address", "PdlLookupResponse", rate_headers=True),
            400: error_response("Malformed request (INVALID_REQUEST)"),
            404: error_response("No PDL found at this address (NOT_FOUND)"),
            422: error_response("Invalid request data (VALIDATION_ERROR)"),
        }
    ),
)
async def lookup_pdl(request: Request) -> JSONResponse:
    """Find the PDL of an address."""
    runtime = _runtime(request)
    body = await read_json(request, runtime)
    problems = validate_pdl_lookup(body, reject_unknown=runtime.config.unknown_fields == "reject")
    if problems:
        raise _validation_error(problems)
    address = body["address"]
    street, postal_code, city = address["street"], address["postal_code"], address["city"]
    if not street.strip() or not city.strip() or not POSTAL_CODE_PATTERN.match(postal_code.strip()):
        raise SandboxError(404, "No PDL found at this address")
    pdl = pdl_for_address(street, postal_code, city)
    return JSONResponse(
        {
            "pdl": pdl,
            "confidence": lookup_confidence(street),
            "address": {"street": street, "postal_code": postal_code, "city": city},
            "meter_type": meter_type_for(pdl),
        }
    )


@router.get(
    "/validation/user/{email}",
    name=USER_ROUTE,
    summary="Check whether a user exists",
    tags=["Validation"],
    openapi_extra=BEARER_SECURITY,
    responses=responses(
        {
            200: json_response("The user exists", "UserValidation", rate_headers=True),
            400: error_response("Malformed e-mail address (INVALID_REQUEST)"),
            404: json_response("No such user", "UserNotFound"),
        }
    ),
)
async def validate_user(request: Request, email: str) -> JSONResponse:
    """Tell whether a user exists, and its status."""
    _refuse_if_forbidden(_runtime(request), email)
    if not is_well_formed_email(email):
        raise SandboxError(400, "Invalid e-mail address", [FieldProblem("email", "Invalid e-mail address")])
    user = find_user(email)
    if user is None:
        return JSONResponse({"exists": False, "message": "User not found"}, status_code=404)
    user_id, status = user
    return JSONResponse({"exists": True, "user_id": user_id, "status": status})


@router.post(
    "/crm/interventions",
    name=CREATE_INTERVENTION_ROUTE,
    summary="Create an intervention",
    tags=["CRM"],
    status_code=201,
    openapi_extra={**BEARER_SECURITY, **request_body("InterventionCreate")},
    responses=responses(
        {
            201: json_response("Intervention created", "InterventionCreated", rate_headers=True),
            400: error_response("Malformed request (INVALID_REQUEST)"),
            409: error_response("An intervention with this external_id exists (CONFLICT)"),
            422: error_response("Invalid request data (VALIDATION_ERROR)"),
        }
    ),
)
async def create_intervention(request: Request) -> JSONResponse:
    """Create an intervention; a second create with the same ``external_id`` is a 409."""
    runtime = _runtime(request)
    config = runtime.config
    body = await read_json(request, runtime)
    problems = validate_create_intervention(body, reject_unknown=config.unknown_fields == "reject")
    if problems:
        raise _validation_error(problems)
    _refuse_if_forbidden(runtime, body["external_id"])
    now = time.time()
    processing_due, decision_due = runtime.lifecycle.schedule(now)
    record, created = runtime.store.create_intervention(body["external_id"], body, now, processing_due, decision_due)
    if not created:
        details = [FieldProblem("external_id", "An intervention with this external_id already exists")]
        if config.conflict_mode == "with_id":
            details.append(FieldProblem("id", record.id))
        raise SandboxError(409, "An intervention with this external_id already exists", details)
    return JSONResponse(
        {
            "id": record.id,
            "status": "created",
            "external_id": record.external_id,
            "created_at": iso_seconds(now),
        },
        status_code=201,
        headers={"Location": f"/crm/interventions/{record.id}"},
    )


def _intervention_status(record: Intervention) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "status": record.status,
        "created_at": iso_seconds(record.created_at),
        "updated_at": iso_seconds(record.updated_at),
        "next_steps": next_steps(record),
    }


@router.get(
    "/crm/interventions/{id}",
    name=GET_INTERVENTION_ROUTE,
    summary="Get the status of an intervention",
    tags=["CRM"],
    openapi_extra=BEARER_SECURITY,
    responses=responses(
        {
            200: json_response("The intervention's status", "InterventionStatus", rate_headers=True),
            404: error_response("No such intervention (NOT_FOUND)"),
        }
    ),
)
async def get_intervention(request: Request, id: str) -> JSONResponse:
    """The status of an intervention and its next steps."""
    runtime = _runtime(request)
    _refuse_if_forbidden(runtime, id)
    record = runtime.lifecycle.refresh(id, time.time())
    if record is None:
        raise SandboxError(404, "Intervention not found")
    return JSONResponse(_intervention_status(record))


@router.patch(
    "/crm/interventions/{id}",
    name=UPDATE_INTERVENTION_ROUTE,
    summary="Update an intervention (add documents)",
    tags=["CRM"],
    openapi_extra={**BEARER_SECURITY, **request_body("InterventionUpdate")},
    responses=responses(
        {
            200: json_response("Intervention updated", "InterventionUpdated", rate_headers=True),
            400: error_response("Malformed request (INVALID_REQUEST)"),
            404: error_response("No such intervention (NOT_FOUND)"),
            422: error_response("Invalid request data (VALIDATION_ERROR)"),
        }
    ),
)
async def update_intervention(request: Request, id: str) -> JSONResponse:
    """Add documents (the document's PATCH carries ``documents`` only: photos are refused with a 422); an
    ``additional_proof`` reopens a rejected intervention."""
    runtime = _runtime(request)
    body = await read_json(request, runtime)
    _refuse_if_forbidden(runtime, id)
    now = time.time()
    if runtime.lifecycle.refresh(id, now) is None:
        raise SandboxError(404, "Intervention not found")
    problems = validate_update_intervention(body, reject_unknown=runtime.config.unknown_fields == "reject")
    if problems:
        raise _validation_error(problems)
    with runtime.store.lock:
        record = runtime.store.get_intervention(id)
        if record is None:  # reset meanwhile
            raise SandboxError(404, "Intervention not found")
        events = runtime.lifecycle.add_documents(record, body.get("documents") or [], now)
    runtime.lifecycle.emit(events)
    return JSONResponse(
        {
            "id": record.id,
            "status": "updated",
            "external_id": record.external_id,
            "updated_at": iso_seconds(now),
        }
    )
