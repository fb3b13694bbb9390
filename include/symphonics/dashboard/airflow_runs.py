"""Failed runs of every Symphonics DAG, read from Airflow's REST API with the viewer's own token.

The dashboard never reads Airflow's metadata database: it asks the api-server, as the viewer, so a viewer sees
exactly the runs, tasks and logs Airflow lets them see (a 403 is shown as such, never worked around).
For each failed run: the failed task(s) and the error of the last try, from the task's structured log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from include.symphonics.core.redaction import redact

log = logging.getLogger(__name__)

#: The DAGs the panel lists: every DAG of the project.
DAG_ID_PATTERN = "symphonics_%"
#: Failed runs listed (newest first); each costs two or three requests to the api-server.
FAILED_RUNS_SHOWN = 10
#: The longest error message shown (the task log holds the rest).
ERROR_CHARS = 300
TIMEOUT_SECONDS = 5.0

Getter = Callable[[str, Mapping[str, Any]], requests.Response]
#: The DAG "check again now" triggers.
PUBLISH_DAG = "symphonics_publish"
#: The DAGs whose rows, runs and health the dashboard shows: a viewer must be allowed to read each of them.
SYMPHONICS_DAGS = (
    "symphonics_healthcheck",
    "symphonics_privacy_erasure",
    PUBLISH_DAG,
    "symphonics_reconcile",
    "symphonics_watchdog",
)


class AirflowApiRefused(Exception):
    """The api-server refused the viewer (401/403) or could not answer."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_of_log(content: Any) -> str | None:
    """The error a task's structured log ends with: the exception's type and message, else the last error line.

    :param content: the ``content`` of ``GET …/taskInstances/{task_id}/logs/{try_number}`` (JSON).
    """
    if not isinstance(content, list):
        return None
    for entry in reversed(content):
        if not isinstance(entry, Mapping):
            continue
        details = entry.get("error_detail")
        if isinstance(details, list) and details and isinstance(details[0], Mapping):
            first = details[0]
            return f"{first.get('exc_type', 'Error')}: {first.get('exc_value', '')}".strip()
    for entry in reversed(content):
        if isinstance(entry, Mapping) and str(entry.get("level", "")).lower() in ("error", "critical"):
            return str(entry.get("event", ""))
    return None


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    text = redact(text)
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


class AirflowRuns:
    """Reads runs from the api-server at ``base_url`` with the viewer's ``token``.

    :param base_url: the api-server's root (``http://127.0.0.1:8080``, or ``[api] base_url``).
    :param token: the viewer's JWT (from their ``Authorization`` header or their UI cookie).
    :param get: the HTTP GET to use (tests may swap it); ``requests`` by default.
    """

    def __init__(self, base_url: str, token: str, get: Getter | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._get = get or self._requests_get

    def _requests_get(self, url: str, params: Mapping[str, Any]) -> requests.Response:
        return requests.get(
            url,
            params=dict(params),
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )

    def _json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            response = self._get(f"{self.base_url}{path}", params or {})
        except requests.RequestException as exc:
            raise AirflowApiRefused(None, f"the Airflow API did not answer ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise AirflowApiRefused(response.status_code, "Airflow does not let you read these DAG runs")
        if response.status_code != 200:
            raise AirflowApiRefused(response.status_code, f"the Airflow API answered {response.status_code}")
        return response.json()

    def trigger_publish(self, external_ids: list[str]) -> dict[str, Any]:
        """Trigger ``symphonics_publish`` with ``external_ids``, as the viewer: Airflow decides whether they may.

        :param external_ids: the rows to check again.
        :raises AirflowApiRefused: with Airflow's status when it refuses (403 for a user who may not trigger) or
            does not answer; nothing was started then.
        """
        try:
            response = requests.post(
                f"{self.base_url}/api/v2/dags/{PUBLISH_DAG}/dagRuns",
                json={"logical_date": None, "conf": {"external_ids": external_ids}},
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise AirflowApiRefused(None, f"the Airflow API did not answer ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise AirflowApiRefused(response.status_code, "Airflow does not let you trigger symphonics_publish")
        if response.status_code not in (200, 201):
            detail = redact(str(response.json().get("detail", ""))) if response.content else ""
            raise AirflowApiRefused(response.status_code, f"the Airflow API answered {response.status_code} {detail}")
        run = response.json()
        return {"dag_id": run.get("dag_id"), "dag_run_id": run.get("dag_run_id"), "state": run.get("state")}

    def failed_runs(self, limit: int = FAILED_RUNS_SHOWN) -> dict[str, Any]:
        """The newest failed runs of the Symphonics DAGs, each with its failed tasks and their errors.

        :param limit: runs listed.
        :raises AirflowApiRefused: when the list itself is refused or unavailable.
        """
        listing = self._json(
            "/api/v2/dags/~/dagRuns",
            {"dag_id_pattern": DAG_ID_PATTERN, "state": "failed", "order_by": "-run_after", "limit": limit},
        )
        runs = []
        for run in listing.get("dag_runs", []):
            dag_id, run_id = str(run["dag_id"]), str(run["dag_run_id"])
            runs.append(
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "run_type": run.get("run_type"),
                    "logical_date": run.get("logical_date"),
                    "run_after": run.get("run_after"),
                    "start_date": run.get("start_date"),
                    "end_date": run.get("end_date"),
                    "failed_tasks": self._failed_tasks(dag_id, run_id),
                }
            )
        return {"total": int(listing.get("total_entries", len(runs))), "runs": runs}

    def _failed_tasks(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        base = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        try:
            listing = self._json(base, {"state": "failed"})
        except AirflowApiRefused as exc:
            return [{"task_id": None, "try_number": None, "error": str(exc)}]
        tasks = []
        for ti in listing.get("task_instances", []):
            task_id, try_number = str(ti["task_id"]), int(ti.get("try_number") or 1)
            error: str | None
            try:
                logged = self._json(f"{base}/{quote(task_id, safe='')}/logs/{try_number}", {"full_content": "true"})
                error = error_of_log(logged.get("content"))
            except AirflowApiRefused as exc:
                error = f"(log not readable: {exc})"
            tasks.append({"task_id": task_id, "try_number": try_number, "error": _short(error)})
        return tasks


def failed_runs_panel(reader: AirflowRuns) -> dict[str, Any]:
    """The panel: ``ok`` with the runs, ``no_data`` when none failed, ``error`` with a reason when refused.

    :param reader: the API reader, holding the viewer's token.
    """
    try:
        found = reader.failed_runs()
    except AirflowApiRefused as exc:
        log.info("dashboard: failed runs not read (%s)", exc.status)
        return {"status": "error", "message": str(exc), "http_status": exc.status}
    if not found["runs"]:
        return {"status": "no_data", "message": "no failed run of a Symphonics DAG"}
    return {"status": "ok", **found}
