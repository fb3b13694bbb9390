"""Live activity in the app for the freshness benchmark and the watcher's end-to-end tests.

``schedule_copies`` books new jobs (status ``scheduled``) copied from interventions the pipeline published, so
each is valid and its PDL and installer are already in the validation caches: publishing one costs exactly one
partner call (the create). ``complete`` then completes them, one statement each, as the app does when an
installer closes a job; the app's trigger moves ``updated_at``, which is what the watcher sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from include.symphonics_demo.plan import external_id_of

_CHILDREN = {
    "intervention_services": "code, name, quantity",
    "intervention_equipment": "name, model, serial_number, quantity",
    "intervention_documents": "type, name, url",
    "intervention_photos": "type, url, latitude, longitude, taken_at",
}


def schedule_copies(conn: psycopg.Connection, templates: Sequence[int], count: int) -> list[int]:
    """Book ``count`` new scheduled jobs, copies (with their children) of ``templates`` taken in turn.

    :param conn: the app's database.
    :param templates: ids of valid interventions to copy (e.g. ones the pipeline published).
    :param count: how many jobs to book.
    :returns: the new interventions' ids.
    """
    if not templates:
        raise ValueError("schedule_copies needs at least one template intervention")
    new_ids: list[int] = []
    with conn.transaction():
        for index in range(count):
            template = templates[index % len(templates)]
            row = conn.execute(
                """
                INSERT INTO public.interventions (external_id, status, completed_at, customer_id, installer_id,
                       address, postal_code, city, pdl, pce, latitude, longitude)
                SELECT 'pending-' || gen_random_uuid(), 'scheduled', NULL, customer_id, installer_id, address,
                       postal_code, city, pdl, pce, latitude, longitude
                  FROM public.interventions WHERE id = %s
                RETURNING id
                """,
                (template,),
            ).fetchone()
            if row is None:
                raise ValueError(f"no intervention {template} to copy")
            new_id = int(row[0])
            conn.execute(
                "UPDATE public.interventions SET external_id = %s WHERE id = %s", (external_id_of(new_id), new_id)
            )
            for table, columns in _CHILDREN.items():
                conn.execute(
                    f"INSERT INTO public.{table} (intervention_id, {columns}) "  # noqa: S608 (fixed names above)
                    f"SELECT %s, {columns} FROM public.{table} WHERE intervention_id = %s ORDER BY id",
                    (new_id, template),
                )
            new_ids.append(new_id)
    return new_ids


def complete(conn: psycopg.Connection, intervention_id: int) -> None:
    """Complete one job now, in its own transaction (the app's trigger sets ``updated_at``).

    :param conn: the app's database.
    :param intervention_id: the job to complete.
    """
    with conn.transaction():
        conn.execute(
            "UPDATE public.interventions SET status = 'completed', completed_at = now() "
            "WHERE id = %s AND status = 'scheduled'",
            (intervention_id,),
        )
