"""
### Symphonics privacy erasure

Erases one person from the `sync` database on request (GDPR article 17), and records that it was done.
Manual only: the DAG's **Trigger** button (its form shows the params below; or the REST API), with **one**
of the params:

* `customer_id`: the app's `customers.id` (preferred: the run's config, kept in Airflow's own database, then
  holds no e-mail);
* `email`: the customer's e-mail (any case), also found in ledger rows the app no longer has;
* `reference` (optional): the request's ticket number, recorded (letters, digits, `._:/#-`; no personal data).

`erase`: the person's interventions are found through the erasure's index (keyed hashes of customer ids and
e-mails); their ledger rows lose every personal value and are never sent again (states, ids and counts stay);
the app copy, webhook bodies and cached partner answers lose their identifiers, the partner notes of their
interventions are emptied; `symphonics.privacy_erasures` records when, what and how many rows, never who. A
second run changes nothing. Malformed params, a missing connection (`sync_db`, `app_db`,
`symphonics_subject_keys`), a permission the database role lacks or a value the database refuses fail the run at
once (no retry), and so does a key that is not one of these three; a lost connection is retried. The partner's
copy: see `docs/PERSONAL_DATA.md`.
Same as `python -m include.symphonics.privacy erase --customer-id N`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from include.symphonics.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["symphonics", "privacy"],
    params={
        "customer_id": Param(None, type=["null", "integer"], minimum=1, description="The app's customers.id"),
        "email": Param(None, type=["null", "string"], description="Or the customer's e-mail"),
        "reference": Param(None, type=["null", "string"], description="The request's ticket number (recorded)"),
    },
)
def symphonics_privacy_erasure() -> None:
    @task(multiple_outputs=False)  # one XCom, the whole result: stated, not inferred
    def erase() -> dict[str, Any]:
        from include.symphonics import params as run_params
        from include.symphonics.privacy import steps
        from include.symphonics.privacy.erasure import DETERMINISTIC_ERRORS

        context = get_current_context()
        not_retried: tuple[type[Exception], ...] = (*DETERMINISTIC_ERRORS, AirflowNotFoundException)
        run_params.fail_run_on_unknown_conf(context)  # a typo'd key must not erase someone else, or no one
        try:
            return steps.run_erasure(context["params"], run_id=str(context["run_id"]))
        except not_retried as exc:
            # A malformed request or a missing permission is not retried: the next try would fail the same way.
            # First line only: a database error's context lines may quote the statement's values.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise AirflowFailException(f"{type(exc).__name__}: {first}") from exc

    erase()


symphonics_privacy_erasure()
