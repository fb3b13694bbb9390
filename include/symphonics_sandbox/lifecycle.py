"""The intervention lifecycle: created → processing → approved or rejected, by deterministic rules.

Timing: an intervention moves to ``processing`` ``processing_delay`` sandbox seconds after its creation and is
decided ``decision_delay`` sandbox seconds after that (real seconds are sandbox seconds / ``time_scale``).
Status advances lazily whenever an intervention is read, and a background ticker advances the rest, so
webhooks go out even when nobody asks.

Decision (first time): rejected, with French notes, when there is no attestation_honneur, when no
attestation_honneur is a PDF, or when a "before" photo and an "after" photo are more than 1 km apart;
otherwise approved. Each document gets a ``document.verification`` event (``rejected`` for an
attestation_honneur whose URL does not end in ``.pdf``, else ``verified``). A PATCH adding an
``additional_proof`` to a rejected intervention reopens it (back to ``processing``), and it is then approved.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from include.symphonics_sandbox.config import SandboxConfig
from include.symphonics_sandbox.state import Intervention, StateStore
from include.symphonics_sandbox.webhooks import WebhookDispatcher, iso_seconds

FINAL_STATUSES = ("approved", "rejected")
MAX_PHOTO_DISTANCE_KM = 1.0
_EARTH_RADIUS_KM = 6371.0

APPROVED_NOTES = "All documents verified successfully"
VERIFIED_NOTES = "Document verified successfully"
PROCESSING_NOTES = "Dossier en cours de vérification"
REOPENED_NOTES = "Preuve supplémentaire reçue : nouvelle vérification en cours"
MISSING_ATTESTATION = "Attestation sur l'honneur manquante"
ATTESTATION_NOT_PDF = "Attestation sur l'honneur non conforme : un fichier PDF est attendu"


@dataclass(frozen=True)
class PendingEvent:
    """A webhook event a transition produced, emitted once the store lock is released."""

    event_type: str
    data: dict[str, Any]
    occurred_at: float


def distance_km(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Great-circle distance between two ``{"latitude", "longitude"}`` points (haversine).

    :param first: a point.
    :param second: another point.
    """
    lat1, lon1 = math.radians(first["latitude"]), math.radians(first["longitude"])
    lat2, lon2 = math.radians(second["latitude"]), math.radians(second["longitude"])
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def is_pdf_url(url: str) -> bool:
    """Tell whether a document URL names a PDF (its path ends in ``.pdf``, any case; the query is ignored).

    :param url: the document URL.
    """
    return urlsplit(url).path.lower().endswith(".pdf")


def verification_of(document: dict[str, Any]) -> tuple[str, str]:
    """The ``(verification_status, notes)`` of one document.

    :param document: a ``{"type", "name", "url"}`` document.
    """
    if document["type"] == "attestation_honneur" and not is_pdf_url(document["url"]):
        return "rejected", ATTESTATION_NOT_PDF
    return "verified", VERIFIED_NOTES


def first_decision(record: Intervention) -> tuple[str, str]:
    """The ``(status, notes)`` of an intervention's first decision.

    :param record: the intervention.
    """
    reasons: list[str] = []
    attestations = [doc for doc in record.documents if doc["type"] == "attestation_honneur"]
    if not attestations:
        reasons.append(MISSING_ATTESTATION)
    elif not any(is_pdf_url(doc["url"]) for doc in attestations):
        reasons.append(ATTESTATION_NOT_PDF)
    before = [photo["coordinates"] for photo in record.photos if photo["type"] == "before"]
    after = [photo["coordinates"] for photo in record.photos if photo["type"] == "after"]
    farthest = max((distance_km(b, a) for b in before for a in after), default=0.0)
    if farthest > MAX_PHOTO_DISTANCE_KM:
        french_distance = f"{farthest:.1f}".replace(".", ",")
        reasons.append(
            f"Les photos avant et après n'ont pas été prises sur le même site (écart de {french_distance} km)"
        )
    if reasons:
        return "rejected", "Dossier rejeté : " + " ; ".join(reasons)
    return "approved", APPROVED_NOTES


def next_steps(record: Intervention) -> list[dict[str, Any]]:
    """The ``next_steps`` of ``GET /crm/interventions/{id}``.

    Pending verification (with its estimated completion) before the decision; an ``additional_proof``
    step when rejected; none when approved.

    :param record: the intervention.
    """
    if record.status in ("created", "processing"):
        return [
            {
                "type": "verification",
                "status": "pending",
                "estimated_completion": iso_seconds(record.decision_due),
            }
        ]
    if record.status == "rejected":
        return [{"type": "additional_proof", "status": "required"}]
    return []


class InterventionLifecycle:
    """Advances interventions through their statuses and emits the webhooks of each transition.

    :param store: the state store.
    :param webhooks: where events go.
    :param config_source: returns the current configuration.
    """

    def __init__(
        self, store: StateStore, webhooks: WebhookDispatcher, config_source: Callable[[], SandboxConfig]
    ) -> None:
        self._store = store
        self._webhooks = webhooks
        self._config_source = config_source

    def schedule(self, now: float) -> tuple[float, float]:
        """When a new intervention moves to processing and is decided.

        :param now: its creation time.
        :return: ``(processing_due, decision_due)``.
        """
        config = self._config_source()
        processing_due = now + config.processing_delay / config.time_scale
        return processing_due, processing_due + config.decision_delay / config.time_scale

    def advance(self, record: Intervention, now: float, *, force_steps: int = 0) -> list[PendingEvent]:
        """Apply every transition due by ``now``, plus up to ``force_steps`` early ones.

        Must be called with the store lock held; emit the returned events after releasing it.

        :param record: the intervention.
        :param now: the current time.
        :param force_steps: transitions to apply even though not yet due (``/_sandbox/tick``).
        """
        events: list[PendingEvent] = []
        while record.status not in FINAL_STATUSES:
            due = record.processing_due if record.status == "created" else record.decision_due
            if due > now:
                if force_steps <= 0:
                    break
                force_steps -= 1
                if record.status == "created":
                    record.processing_due = now
                else:
                    record.decision_due = now
            if record.status == "created":
                events.append(self._change_status(record, "processing", PROCESSING_NOTES, now))
            else:
                events.extend(self._decide(record, now))
        if events:
            self._store.save_intervention(record)
        return events

    def _change_status(self, record: Intervention, status: str, notes: str, now: float) -> PendingEvent:
        previous = record.status
        record.status = status
        record.updated_at = now
        record.history.append({"status": status, "at": now, "notes": notes})
        return PendingEvent(
            "intervention.status_update",
            {
                "intervention_id": record.id,
                "external_id": record.external_id,
                "previous_status": previous,
                "new_status": status,
                "notes": notes,
            },
            now,
        )

    def _decide(self, record: Intervention, now: float) -> list[PendingEvent]:
        events = []
        for document in record.documents[record.documents_verified :]:
            verification_status, notes = verification_of(document)
            events.append(
                PendingEvent(
                    "document.verification",
                    {
                        "intervention_id": record.id,
                        "external_id": record.external_id,
                        "document_type": document["type"],
                        "verification_status": verification_status,
                        "notes": notes,
                    },
                    now,
                )
            )
        record.documents_verified = len(record.documents)
        status, notes = ("approved", APPROVED_NOTES) if record.reopened else first_decision(record)
        record.notes = notes
        events.append(self._change_status(record, status, notes, now))
        return events

    def emit(self, events: list[PendingEvent]) -> None:
        """Emit the webhooks of transitions, in order.

        :param events: what :meth:`advance` or :meth:`add_documents` returned.
        """
        for event in events:
            self._webhooks.emit(event.event_type, event.data, event.occurred_at)

    def refresh(self, intervention_id: str, now: float) -> Intervention | None:
        """Bring one intervention up to date (the lazy path of a read) and return it.

        :param intervention_id: the ``sym_`` id.
        :param now: the current time.
        """
        with self._store.lock:
            record = self._store.get_intervention(intervention_id)
            events = self.advance(record, now) if record is not None else []
        self.emit(events)
        return record

    def advance_all(self, now: float, *, force_steps: int = 0) -> int:
        """Bring every intervention up to date (the ticker), optionally forcing early transitions.

        :param now: the current time.
        :param force_steps: early transitions per intervention (``/_sandbox/tick``).
        :return: how many transitions happened.
        """
        events: list[PendingEvent] = []
        with self._store.lock:
            for record in self._store.interventions():
                if record.status not in FINAL_STATUSES:
                    events.extend(self.advance(record, now, force_steps=force_steps))
        self.emit(events)
        return sum(1 for event in events if event.event_type == "intervention.status_update")

    def add_documents(self, record: Intervention, documents: list[dict[str, Any]], now: float) -> list[PendingEvent]:
        """Apply a PATCH: add documents (the only thing it carries); an additional proof reopens a rejected one.

        Must be called with the store lock held; emit the returned events after releasing it.

        :param record: the intervention, already brought up to date.
        :param documents: documents to add.
        :param now: the current time.
        """
        record.documents.extend(documents)
        record.updated_at = now
        events: list[PendingEvent] = []
        if record.status == "rejected" and any(doc["type"] == "additional_proof" for doc in documents):
            config = self._config_source()
            record.reopened = True
            record.decision_due = now + config.decision_delay / config.time_scale
            events.append(self._change_status(record, "processing", REOPENED_NOTES, now))
        self._store.save_intervention(record)
        return events
