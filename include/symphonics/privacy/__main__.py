"""``python -m include.symphonics.privacy erase --email … | --customer-id …``: erase a person from the sync database.

Also ``index`` (once after migration 0017: the erasure index's hashes of rows extracted before it) and ``rehash``
(after a key was appended to the connection ``symphonics_subject_keys``; the nightly reconcile does it too).

The same as a run of the DAG ``symphonics_privacy_erasure``, for a DPO with a shell. The databases are those of
the Airflow connections ``sync_db`` and ``app_db`` (``--sync-dsn`` / ``--app-dsn`` to give them directly;
``--no-app`` when the app's database is out of reach: the ledger alone is searched, by e-mail). Prints the
erasure's record (its id, the interventions found, rows changed per table): never the person's data.
"""

from __future__ import annotations

import argparse
import json
import sys

import psycopg

from include.symphonics.core.subject_keys import SubjectKeysError, load_subject_keys
from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID, dsn
from include.symphonics.privacy import subject_index
from include.symphonics.privacy.erasure import ErasureRequest, ErasureRequestError, erase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.symphonics.privacy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("erase", help="erase one person (by e-mail or app customer id) and record it")
    who = cmd.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the customer's e-mail")
    who.add_argument("--customer-id", type=int, help="the app's customers.id")
    cmd.add_argument("--reference", help="the request's reference (ticket number), recorded")
    cmd.add_argument("--sync-dsn", help="libpq string or URL of the sync database (instead of sync_db)")
    cmd.add_argument("--app-dsn", help="libpq string or URL of the app's database (instead of app_db)")
    cmd.add_argument("--no-app", action="store_true", help="do not read the app's database")
    index = sub.add_parser("index", help="write the erasure index's hashes of ledger rows that have none")
    index.add_argument("--sync-dsn", help="libpq string or URL of the sync database (instead of sync_db)")
    index.add_argument("--app-dsn", help="libpq string or URL of the app's database (instead of app_db)")
    index.add_argument("--no-app", action="store_true", help="index only the e-mails still in clear in the ledger")
    rehash_cmd = sub.add_parser("rehash", help="bring the erasure index to the newest key (after a rotation)")
    rehash_cmd.add_argument("--sync-dsn", help="libpq string or URL of the sync database (instead of sync_db)")
    args = parser.parse_args(argv)
    if args.command != "erase":
        return _maintain_index(args)

    try:
        request = ErasureRequest(
            email=args.email, customer_id=args.customer_id, reference=args.reference, requested_by="cli"
        )
        sync_dsn = args.sync_dsn or dsn(SYNC_CONN_ID)
        app_dsn = None if args.no_app else (args.app_dsn or dsn(APP_CONN_ID))
        result = erase(request, sync_dsn, app_dsn)
    except (ErasureRequestError, SubjectKeysError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: a database does not answer: {first}", file=sys.stderr)
        return 1
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            print(
                "error: no Airflow connection sync_db/app_db/symphonics_subject_keys: run `make run` once, or pass "
                "the DSNs",
                file=sys.stderr,
            )
            return 1
        raise
    print(json.dumps(result.as_dict(), sort_keys=True))
    return 0


def _maintain_index(args: argparse.Namespace) -> int:
    """``index`` or ``rehash``: prints the rows done."""
    keys = load_subject_keys()
    sync_dsn = args.sync_dsn or dsn(SYNC_CONN_ID)
    if args.command == "index":
        app_dsn = None if args.no_app else (args.app_dsn or dsn(APP_CONN_ID))
        done = {"indexed": subject_index.index_ledger(sync_dsn, app_dsn, keys)}
    else:
        done = {"rehashed": subject_index.rehash(sync_dsn, keys), "key_version": keys.version}
    print(json.dumps(done, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
