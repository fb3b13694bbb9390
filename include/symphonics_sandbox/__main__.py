"""Start the sandbox: ``python -m include.symphonics_sandbox --port 8099 [--host H] [--config FILE]``.

Secrets never go on the command line (any local user can read it in ``ps``): the admin token and the webhook
secret come from the environment, ``SYMPHONICS_SANDBOX_ADMIN_TOKEN`` and ``SYMPHONICS_SANDBOX_WEBHOOK_SECRET``,
and win over the YAML file.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from include.symphonics_sandbox.config import CONFLICT_MODES, ConfigError, load_config

ADMIN_TOKEN_ENV = "SYMPHONICS_SANDBOX_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
WEBHOOK_SECRET_ENV = "SYMPHONICS_SANDBOX_WEBHOOK_SECRET"  # noqa: S105 - idem


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; flags win over the YAML file.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="python -m include.symphonics_sandbox", description=__doc__)
    parser.add_argument("--config", help="YAML configuration file (see docs/SANDBOX.md)")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8099)")
    parser.add_argument("--state-file", help="SQLite file that keeps state across restarts")
    parser.add_argument("--time-scale", type=float, help="sandbox seconds per real second (default 1)")
    parser.add_argument("--webhook-url", help="where webhooks are POSTed (default: none)")
    parser.add_argument("--conflict-mode", choices=CONFLICT_MODES, help="what a 409 carries (default bare)")
    parser.add_argument("--accept-gzip", action="store_true", default=None, help="accept gzip request bodies")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Load the configuration and serve until interrupted.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    args = parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "state_file": args.state_file,
            "time_scale": args.time_scale,
            "webhook_url": args.webhook_url,
            "conflict_mode": args.conflict_mode,
            "accept_gzip": args.accept_gzip,
        }.items()
        if value is not None
    }
    for key, variable in (("admin_token", ADMIN_TOKEN_ENV), ("webhook_secret", WEBHOOK_SECRET_ENV)):
        if os.environ.get(variable):
            overrides[key] = os.environ[variable]
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"sandbox: invalid configuration: {exc}", file=sys.stderr)
        return 2
    # Imported here so that --help and configuration errors answer without loading the web stack.
    from include.symphonics_sandbox.server import serve

    print(f"Symphonics sandbox on http://{config.host}:{config.port}", file=sys.stderr, flush=True)
    serve(config, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
