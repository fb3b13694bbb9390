"""Lineage of the sync: the ``symphonics://`` asset scheme, its OpenLineage converter, and what the tasks report.

The publish run reads the app's tables (with psycopg, which no Airflow hook sees, so the extract reports them to
the hook-level lineage collector itself) and writes the partner's interventions; the reconcile run reads the
partner's interventions (status polls) and, with the write-back on, writes the app's ``symphonics_sync`` table.
OpenLineage (``apache-airflow-providers-openlineage``, off unless a transport is configured) turns what the
collector holds into each task's inputs and outputs; a catalog then links the app's tables to the partner's API.

``symphonics://<partner host[:port]>/<resource>``: the partner API's host and one resource (``interventions``).
Its handler, factory and converter are registered by the project's provider (``ASSET_URIS``); the app's tables
use the postgres provider's ``postgres://host:port/database/schema/table``. Nothing here runs at parse time, and
a collector that no reader asked for (OpenLineage off) is Airflow's no-op: reporting costs nothing then.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, ParamSpec
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

log = logging.getLogger(__name__)

Direction = Literal["input", "output"]
P = ParamSpec("P")

SCHEME = "symphonics"
INTERVENTIONS = "interventions"

#: The app's tables the extract reads (``include/symphonics/sql/publish/build_sources.sql``, docs/APP_CONTRACT.md).
APP_TABLES_READ = (
    "public.interventions",
    "public.customers",
    "public.installers",
    "public.companies",
    "public.intervention_services",
    "public.intervention_equipment",
    "public.intervention_documents",
    "public.intervention_photos",
)

#: The app's tables the reconcile copies (``include/symphonics/sql/reconcile/app_state_export.sql``).
APP_TABLES_COPIED = ("public.interventions", "public.installers", "public.customers")

#: The app's table the reconcile's optional write-back writes.
APP_TABLES_WRITTEN = ("symphonics_sync.intervention_status",)

#: The provider info's ``asset-uris`` entry of the scheme.
ASSET_URIS: list[dict[str, Any]] = [
    {
        "schemes": [SCHEME],
        "handler": "include.symphonics.lineage.sanitize_uri",
        "factory": "include.symphonics.lineage.create_asset",
        "to_openlineage_converter": "include.symphonics.lineage.convert_asset_to_openlineage",
    }
]


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Normalise ``symphonics://host[:port]/resource``: the host lower-cased, no query, fragment or trailing slash.

    :raises ValueError: no host, or not exactly one resource in the path.
    """
    if not uri.netloc:
        raise ValueError("URI format symphonics:// must contain the partner API's host")
    resource = uri.path.strip("/")
    if not resource or "/" in resource:
        raise ValueError(
            "URI format symphonics:// must name one resource, e.g. symphonics://api.symphonics.fr/interventions"
        )
    return uri._replace(netloc=uri.netloc.lower(), path=f"/{resource}", query="", fragment="")


def create_asset(*, host: str, resource: str = INTERVENTIONS, extra: dict[str, Any] | None = None) -> Asset:
    """The asset of one resource of the partner API at ``host`` (``api.symphonics.fr``, ``127.0.0.1:8099``)."""
    from airflow.sdk import Asset

    return Asset(uri=f"{SCHEME}://{host}/{resource}", extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """OpenLineage dataset of a ``symphonics://`` asset: namespace ``symphonics://host``, name the resource."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parsed = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{parsed.netloc}", name=parsed.path.strip("/"))


def partner_host(base_url: str) -> str:
    """``host[:port]`` of the partner API's base URL (the asset's netloc)."""
    return urlsplit(base_url).netloc.lower()


def _app_namespace(hook: Any, conn: Any) -> str:
    """``postgres://host:port/database`` of a postgres connection, as the postgres provider's own SQL operators
    name it in OpenLineage (``PostgresHook.get_openlineage_database_info``: scheme, authority, database), so the
    app's tables are one dataset whichever task reports them; a unix-socket folder (the embedded server's) counts
    as localhost.
    """
    info = hook.get_openlineage_database_info(conn)
    authority = info.authority
    if (conn.host or "").startswith("/"):
        authority = f"localhost:{conn.port or 5432}"
    return f"{info.scheme}://{authority}/{info.database}"


def _collector() -> Any:
    from airflow.sdk.lineage import get_hook_lineage_collector

    return get_hook_lineage_collector()


def _never_fails(report: Callable[P, None]) -> Callable[P, None]:
    """Lineage is a side channel: a report that fails is logged, never the task's failure."""

    @functools.wraps(report)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            report(*args, **kwargs)
        except Exception as exc:
            log.warning("lineage not reported (%s): %s", report.__name__, type(exc).__name__)

    return guarded


@_never_fails
def report_app_tables(conn_id: str, tables: tuple[str, ...], *, direction: Direction) -> None:
    """Report tables of the app's database (connection ``conn_id``) as inputs or outputs of the running task.

    :param conn_id: the app's Airflow connection (``app_db``).
    :param tables: ``schema.table`` names.
    :param direction: ``input`` or ``output``.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    collector = _collector()
    hook = PostgresHook(postgres_conn_id=conn_id)  # it opens nothing: it names the database and is the context
    namespace = _app_namespace(hook, hook.get_connection(conn_id))
    add = collector.add_input_asset if direction == "input" else collector.add_output_asset
    for table in tables:
        schema, name = table.split(".", 1)
        add(context=hook, uri=f"{namespace}/{schema}/{name}")


@_never_fails
def report_partner_interventions(hook: Any, base_url: str, *, direction: Direction) -> None:
    """Report the partner's interventions (``symphonics://host/interventions``) as an input or output.

    :param hook: the task's ``SymphonicsHook`` (the collector's context).
    :param base_url: the partner API's base URL.
    :param direction: ``input`` or ``output``.
    """
    collector = _collector()
    add = collector.add_input_asset if direction == "input" else collector.add_output_asset
    # A URI rather than the scheme's factory: the asset is made even where the provider is not registered yet.
    add(context=hook, uri=f"{SCHEME}://{partner_host(base_url)}/{INTERVENTIONS}")
