"""
### Symphonics privacy erasure

Erases one person from the `sync` database on request (GDPR article 17), and records that it was done.
Manual only: the DAG's **Trigger** button (its form shows the params below; or the REST API), with **one**
of the params:

* `customer_id`: the app's `customers.id` (preferred: the run's config, kept in Airflow's own database, then
  holds no e-mail);
* `email`: the customer's e-mail (any case), also found in ledger rows the app no longer has;
* `reference` (optional): the request's ticket number, recorded (letters, digits, `._:/#-`; no personal data).

`erase`: their ledger rows lose every personal value and are never sent again (states, ids and counts stay);
the app copy, webhook bodies, cached partner answers and every free-text column lose their identifiers;
`symphonics.privacy_erasures` records when, what and how many rows, never who. A second run changes nothing.
Malformed params, or a key that is not one of these three, fail the run at once (no retry). The partner's copy:
see `docs/PERSONAL_DATA.md`.
Same as `python -m include.symphonics.privacy erase --customer-id N`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

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
        from include.symphonics.privacy.erasure import ErasureRequestError

        context = get_current_context()
        run_params.fail_run_on_unknown_conf(context)  # a typo'd key must not erase someone else, or no one
        try:
            return steps.run_erasure(context["params"], run_id=str(context["run_id"]))
        except ErasureRequestError as exc:
            # A malformed request is not retried: the same params would fail the same way.
            raise AirflowFailException(str(exc)) from exc

    erase()


symphonics_privacy_erasure()
