"""Command line of the demo data set: ``python -m include.symphonics_demo {init-schema,seed,mutate,expect}``.

The app database is ``--dsn``, else ``$SYMPHONICS_APP_DSN``, else Airflow's connection ``app_db``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import psycopg

from include.symphonics_demo.app_db import apply_schema, resolve_app_dsn
from include.symphonics_demo.expectations import expected_outcomes
from include.symphonics_demo.generator import seed_database
from include.symphonics_demo.mutate import mutate_database


def _share(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=FRACTION, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a fraction: {value!r}") from exc


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.symphonics_demo",
        description="Reference schema and demo data of the Workforce Automation App's database.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add_dsn(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--dsn",
            help="libpq DSN of the app database (default: $SYMPHONICS_APP_DSN, else connection app_db)",
        )

    def add_shares(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--share",
            action="append",
            type=_share,
            default=[],
            metavar="NAME=FRACTION",
            help="override a defect share, e.g. --share pdl_unknown=0.05 (repeatable; docs/APP_CONTRACT.md)",
        )

    init = commands.add_parser("init-schema", help="create the app's tables where missing (idempotent)")
    add_dsn(init)
    init.add_argument("--reset", action="store_true", help="drop the app's tables (and their data) first")

    seed = commands.add_parser("seed", help="fill the app's tables with a demo data set")
    add_dsn(seed)
    seed.add_argument("--interventions", type=int, required=True, metavar="N")
    seed.add_argument("--seed", type=int, required=True, metavar="S")
    seed.add_argument("--reset", action="store_true", help="drop and recreate the app's tables first")
    add_shares(seed)

    mutate = commands.add_parser("mutate", help="late documents, address edits and cancellations after publish")
    add_dsn(mutate)
    mutate.add_argument("--seed", type=int, required=True, metavar="S", help="the seed the data set was made with")
    mutate.add_argument("--edits", type=int, required=True, metavar="K")
    mutate.add_argument("--round", type=int, default=1, dest="round_number", help="1, 2, ...: disjoint targets")
    add_shares(mutate)

    expect = commands.add_parser("expect", help="print the expected pipeline outcome of a data set (no database)")
    expect.add_argument("--interventions", type=int, required=True, metavar="N")
    expect.add_argument("--seed", type=int, required=True, metavar="S")
    add_shares(expect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _build_parser().parse_args(argv)
    shares = dict(getattr(args, "share", []))
    try:
        if args.command == "init-schema":
            with psycopg.connect(resolve_app_dsn(args.dsn)) as conn, conn.transaction():
                apply_schema(conn, reset=args.reset)
            print("app schema applied" + (" (tables reset)" if args.reset else ""))
        elif args.command == "seed":
            report = seed_database(
                resolve_app_dsn(args.dsn),
                interventions=args.interventions,
                seed=args.seed,
                shares=shares,
                reset=args.reset,
            )
            rows = sum(report.rows.values())
            print(f"seeded {args.interventions} interventions ({rows} rows) in {report.seconds:.1f} s")
            print(json.dumps({"rows": report.rows, "defects": report.defect_counts}, indent=2))
        elif args.command == "mutate":
            mutation_report = mutate_database(
                resolve_app_dsn(args.dsn),
                seed=args.seed,
                edits=args.edits,
                shares=shares,
                round_number=args.round_number,
            )
            print(json.dumps(mutation_report.counts, indent=2))
        elif args.command == "expect":
            expected = expected_outcomes(args.seed, args.interventions, shares)
            print(
                json.dumps(
                    {
                        "states": expected.state_counts,
                        "reasons": {k: v for k, v in expected.reason_counts.items() if v},
                        "partner_rejects_later": len(expected.partner_rejects_later),
                        "lookups_needed": expected.lookups_needed,
                        "modifiers": expected.modifier_counts,
                    },
                    indent=2,
                )
            )
    except (ValueError, RuntimeError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
