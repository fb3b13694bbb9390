"""Partner free text masked for analysts everywhere: one masking function, French phone numbers in every format.

``analytics.mask_personal_data`` (0007) masked e-mails, PDLs and phone numbers written ``06 12 34 56 78`` or
``+33 6 12 34 56 78``, but not ``0033 6 12 34 56 78`` nor ``+33 (0)6 12 34 56 78``; and only ``analytics.rejections``
used it: the partner's notes reached analysts in clear in ``analytics.interventions_current`` and in the daily
snapshots. The upgrade:

* replaces the function's body: phone numbers also after ``0033`` and with the ``(0)`` of the national prefix,
  separators space, dot or dash; the masks stay the same (``t***@domain``, ``**********1234``, ``******78``);
* masks ``partner_notes`` in ``analytics.interventions_current`` (``CREATE OR REPLACE VIEW``: same columns, grants
  kept);
* masks the notes already stored in ``analytics.reconciliation_snapshots`` (the snapshot job masks new ones, in
  ``sql/reconcile/build_snapshot.sql``), through the erasure's exception to the snapshots' immutability (0009).

The dashboard reads free text through the same function (``sql/dashboard/``). The downgrade restores 0005's view and
0007's function; masked notes stay masked (a mask cannot be taken back, and nothing should).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# E-mails, PDLs (14 digits) and French phone numbers: national (0X), international (+33 or 0033, with or without
# "(0)"), digits in pairs separated by a space, a dot or a dash, or not at all.
_MASK_FUNCTION = r"""
CREATE OR REPLACE FUNCTION analytics.mask_personal_data(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
RETURN regexp_replace(
           regexp_replace(
               regexp_replace(value,
                   '([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)', '\1***@\2', 'g'),
               '\m[0-9]{10}([0-9]{4})\M', '**********\1', 'g'),
           '(\+33[ .-]?(\(0\)[ .-]?)?|\m0033[ .-]?(\(0\)[ .-]?)?|\m0)[1-9]([ .-]?[0-9]{2}){3}[ .-]?([0-9]{2})\M',
           '******\5', 'g')
"""

# As 0007 made it: what the downgrade restores.
_MASK_FUNCTION_0007 = r"""
CREATE OR REPLACE FUNCTION analytics.mask_personal_data(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
RETURN regexp_replace(
           regexp_replace(
               regexp_replace(value,
                   '([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)', '\1***@\2', 'g'),
               '\m[0-9]{10}([0-9]{4})\M', '**********\1', 'g'),
           '(\+33 ?|\m0)[1-9]([ .-]?[0-9]{2}){3}[ .-]?([0-9]{2})\M', '******\3', 'g')
"""


def _view(partner_notes: str) -> str:
    """0014's ``analytics.interventions_current`` with ``partner_notes`` as the given expression."""
    return f"""
        CREATE OR REPLACE VIEW analytics.interventions_current AS
        SELECT a.external_id,
               a.app_intervention_id,
               a.status AS app_status,
               a.completed_at,
               a.app_updated_at,
               a.postal_code,
               a.city,
               a.installer_id,
               a.installer_masked,
               a.company_id,
               a.customer_email_masked,
               a.customer_phone_masked,
               l.state AS ledger_state,
               l.state_reason AS ledger_reason,
               l.symphonics_id,
               l.published_at,
               s.partner_status,
               s.partner_status_at,
               {partner_notes} AS partner_notes,
               s.last_webhook_at,
               s.last_polled_at,
               s.next_steps AS partner_next_steps
          FROM (SELECT DISTINCT ON (external_id) *
                  FROM symphonics.app_interventions_copy
                 ORDER BY external_id, app_updated_at DESC) AS a
          LEFT JOIN symphonics.interventions_ledger AS l ON l.external_id = a.external_id
          LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = a.external_id
        """  # noqa: S608 (this module's constants only)


def upgrade() -> None:
    op.execute(_MASK_FUNCTION)
    op.execute(_view("analytics.mask_personal_data(s.partner_notes)"))
    # The snapshots' trigger lets an erasure through (0009): this masking is one, for every row at once.
    op.execute("SELECT set_config('symphonics.erasure', 'on', true)")
    op.execute(
        "UPDATE analytics.reconciliation_snapshots SET partner_notes = analytics.mask_personal_data(partner_notes)"
        " WHERE partner_notes IS DISTINCT FROM analytics.mask_personal_data(partner_notes)"
    )
    op.execute("SELECT set_config('symphonics.erasure', 'off', true)")


def downgrade() -> None:
    op.execute(_view("s.partner_notes"))
    op.execute(_MASK_FUNCTION_0007)
