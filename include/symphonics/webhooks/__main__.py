"""``python -m include.symphonics.webhooks --port N [--host 127.0.0.1]``: the stand-alone webhook receiver.

Configuration comes from the environment (``SYMPHONICS_WEBHOOK_SECRET``, ``SYMPHONICS_SYNC_DSN``...) or the
Airflow connections ``symphonics_default`` and ``sync_db``; see docs/WEBHOOKS.md. ``POST /`` and
``POST /symphonics/webhooks`` both receive, so the partner's URL path is the same as with the api-server plugin.
"""

from __future__ import annotations

import argparse
import logging
import sys

#: Where the stand-alone receiver accepts events: its root, the plugin's path, and the partner document's own
#: webhook URL path (``/api/webhooks/symphonics``), so the URL given in its developer portal needs no rewrite.
STANDALONE_PATHS = ("/", "/symphonics/webhooks", "/symphonics/webhooks/", "/api/webhooks/symphonics")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="python -m include.symphonics.webhooks", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off: rejections are logged)")
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For from --forwarded-allow-ips (behind a reverse proxy)",
    )
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="proxies trusted with --proxy-headers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Check the configuration, then serve until interrupted.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    args = parse_args(argv)
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=args.log_level.upper(), format=log_format)
    # Imported after parsing, so --help answers without loading the web stack.
    import uvicorn

    from include.symphonics.webhooks.app import create_webhook_app
    from include.symphonics.webhooks.server import header_deadline_protocol
    from include.symphonics.webhooks.settings import WebhookConfigurationError, WebhookSettings

    try:
        settings = WebhookSettings.from_environment()  # stand-alone: fail at start, not at the first event
    except WebhookConfigurationError as exc:
        print(f"webhooks: {exc}", file=sys.stderr)
        return 2
    from include.symphonics.core.stats import initialize_stats

    initialize_stats()  # only Airflow's own processes initialise its stats: this one is not one of them
    # Importing Airflow's stats sets its own root handler (on stdout): the receiver logs to stderr, as before.
    logging.basicConfig(level=args.log_level.upper(), format=log_format, force=True)
    app = create_webhook_app(settings, paths=STANDALONE_PATHS)
    print(f"Symphonics webhook receiver on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=args.access_log,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            server_header=False,
            # h11 with a deadline for slow headers (uvicorn has none): webhooks/server.py.
            http=header_deadline_protocol(settings.header_deadline_seconds),
        )
    finally:
        app.state.receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
