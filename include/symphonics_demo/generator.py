"""Demo and benchmark data of the app database: realistic French interventions with a known share of defects.

Rows are made in Python from pools built once (names, streets, cities, catalogue) and a seeded
:class:`random.Random`, then loaded with COPY in chunks, so a million interventions and their ~9 million child
rows load in minutes. The same seed, N and shares always give the same rows (same ids, same values): the plan
(:mod:`include.symphonics_demo.plan`) decides each intervention's case, this module only dresses it.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from include.symphonics_demo.app_db import (
    APP_TABLES,
    TABLES_WITH_TOUCH_TRIGGERS,
    app_tables_row_count,
    apply_schema,
)
from include.symphonics_demo.catalogue import (
    ADDRESSES_WITHOUT_NUMBER,
    CITIES,
    COMPANY_TRADES,
    CUSTOMER_EMAIL_DOMAINS,
    MOBILE_6_SECOND_DIGITS,
    MOBILE_7_SECOND_DIGITS,
    SERVICES,
    UNPARSEABLE_PHONES,
    City,
    Service,
)
from include.symphonics_demo.plan import Case, DatasetPlan, external_id_of, plan_dataset
from include.symphonics_demo.pools import NamePools, Person, build_name_pools, email_slug

log = logging.getLogger(__name__)

# The data set's calendar is fixed (not "today") so that a seed gives the same timestamps on any day; it ends
# in the past so that later activity (`mutate`, at the real now()) always comes after it.
TIMELINE_START = datetime(2025, 1, 1, tzinfo=UTC)
TIMELINE_DAYS = 540

# The partner's sandbox answers "invalid" for this documented test PDL, as for any PDL ending in 000.
PARTNER_INVALID_TEST_PDL = "45678901234567"

DOCUMENT_BASE_URL = "https://app.workforce-automation.com/documents"
PHOTO_BASE_URL = "https://app.workforce-automation.com/photos"

NULL = "\\N"  # NULL in COPY's text format

COPY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "companies": ("id", "name", "email_domain", "symphonics_company_id", "created_at"),
    "installers": ("id", "company_id", "first_name", "last_name", "email", "is_active", "created_at"),
    "customers": ("id", "first_name", "last_name", "email", "phone", "created_at"),
    "interventions": (
        "id",
        "external_id",
        "status",
        "completed_at",
        "updated_at",
        "created_at",
        "customer_id",
        "installer_id",
        "address",
        "postal_code",
        "city",
        "pdl",
        "pce",
        "latitude",
        "longitude",
    ),
    "intervention_services": ("id", "intervention_id", "code", "name", "quantity"),
    "intervention_equipment": ("id", "intervention_id", "name", "model", "serial_number", "quantity"),
    "intervention_documents": ("id", "intervention_id", "type", "name", "url", "created_at"),
    "intervention_photos": ("id", "intervention_id", "type", "url", "latitude", "longitude", "taken_at"),
}


@dataclass
class SeedReport:
    """What a seed made.

    :param plan: the case and modifiers of each intervention (feed it to ``expected_outcomes_of_plan``).
    :param rows: rows written per table.
    :param defect_counts: entities made defective on purpose, by name (cases, modifiers, and the
        installer/company defects the cases rely on).
    :param seconds: wall-clock time of the load.
    """

    plan: DatasetPlan
    rows: dict[str, int] = field(default_factory=dict)
    defect_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class _Timestamps:
    """Fast text timestamps for COPY: seconds since TIMELINE_START -> '2025-03-25 10:30:00+00'."""

    def __init__(self) -> None:
        # Days before and after the timeline: creation dates precede it, late documents follow it.
        self._first_day = -120
        days = range(self._first_day, TIMELINE_DAYS + 120)
        dates = [TIMELINE_START + timedelta(days=d) for d in days]
        self._iso_days = [d.strftime("%Y-%m-%d") for d in dates]
        self._french_days = [d.strftime("%d/%m/%Y") for d in dates]

    def text(self, seconds: int) -> str:
        day, rem = divmod(seconds, 86400)
        hours, rem = divmod(rem, 3600)
        minutes, secs = divmod(rem, 60)
        return f"{self._iso_days[day - self._first_day]} {hours:02d}:{minutes:02d}:{secs:02d}+00"

    def french_date(self, seconds: int) -> str:
        return self._french_days[seconds // 86400 - self._first_day]


@dataclass(frozen=True, slots=True)
class _Installer:
    id: int
    company_id: int


@dataclass(slots=True)
class _Home:
    """A customer at an address: what a repeat customer's next intervention reuses."""

    customer_id: int
    first_name: str
    last_name: str
    address: str
    city: City
    latitude: float
    longitude: float
    pdl: str
    pce: str | None


@dataclass
class _Reference:
    """Companies and installers, split by the role the plan gives them."""

    rows: dict[str, list[str]]
    clean: list[_Installer]
    not_onboarded: list[_Installer]
    inactive: list[_Installer]
    unknown: list[_Installer]
    companies_without_symphonics_id: int


def _make_reference(rng: random.Random, pools: NamePools, plan: DatasetPlan, ts: _Timestamps) -> _Reference:
    """Make companies and their installers (sized from N), including the defect ones."""
    n = plan.interventions
    company_count = max(6, n // 800)
    not_onboarded_count = max(1, company_count // 20)
    symphonics_ids = rng.sample(range(10_000_000, 100_000_000), company_count)
    not_onboarded_ids = set(rng.sample(range(1, company_count + 1), not_onboarded_count))
    company_rows: list[str] = []
    domains: dict[int, str] = {}
    used_domains: set[str] = set()
    for company_id in range(1, company_count + 1):
        family = rng.choice(pools.last_names)
        name = f"{family.name} {rng.choice(COMPANY_TRADES)}"
        domain = f"{email_slug(name)}.fr"
        if domain in used_domains:
            domain = f"{email_slug(name)}-{company_id}.fr"
        used_domains.add(domain)
        domains[company_id] = domain
        symphonics_id = NULL if company_id in not_onboarded_ids else f"cmp_{symphonics_ids[company_id - 1]}"
        created = ts.text(-rng.randrange(30 * 86400, 110 * 86400))
        company_rows.append(f"{company_id}\t{name}\t{domain}\t{symphonics_id}\t{created}\n")

    installer_rows: list[str] = []
    used_emails: set[str] = set()
    onboarded_ids = [c for c in range(1, company_count + 1) if c not in not_onboarded_ids]

    def add_installer(company_id: int, prefix: str, is_active: bool) -> _Installer:
        installer_id = len(installer_rows) + 1
        first: Person = rng.choice(pools.first_names)
        last: Person = rng.choice(pools.last_names)
        local = f"{prefix}{first.slug}.{last.slug}"
        email = f"{local}@{domains[company_id]}"
        if email in used_emails:
            email = f"{local}{installer_id}@{domains[company_id]}"
        used_emails.add(email)
        created = ts.text(-rng.randrange(86400, 100 * 86400))
        active = "t" if is_active else "f"
        installer_rows.append(
            f"{installer_id}\t{company_id}\t{first.name}\t{last.name}\t{email}\t{active}\t{created}\n"
        )
        return _Installer(installer_id, company_id)

    clean: list[_Installer] = []
    not_onboarded: list[_Installer] = []
    for company_id in range(1, company_count + 1):
        for _ in range(rng.randint(2, 10)):
            installer = add_installer(company_id, "", True)
            (not_onboarded if company_id in not_onboarded_ids else clean).append(installer)
    defect_installer_count = max(1, len(clean) // 100)
    # The partner's sandbox reads these local parts as an inactive / a non-existent user. The partner-inactive
    # ones left the company: the app has deactivated them too (the sync does not read that flag).
    inactive = [add_installer(rng.choice(onboarded_ids), "inactive.", False) for _ in range(defect_installer_count)]
    unknown = [
        add_installer(rng.choice(onboarded_ids), rng.choice(("unknown.", "nonexistent.")), True)
        for _ in range(defect_installer_count)
    ]
    return _Reference(
        rows={"companies": company_rows, "installers": installer_rows},
        clean=clean,
        not_onboarded=not_onboarded,
        inactive=inactive,
        unknown=unknown,
        companies_without_symphonics_id=not_onboarded_count,
    )


class _InterventionWriter:
    """Dresses each planned intervention with rows, chunk by chunk."""

    def __init__(self, plan: DatasetPlan, pools: NamePools, rng: random.Random, reference: _Reference) -> None:
        self.plan = plan
        self.pools = pools
        self.rng = rng
        self.reference = reference
        self.ts = _Timestamps()
        self.homes: list[_Home] = []
        self.next_customer_id = 1
        self.next_id = dict.fromkeys(
            (
                "intervention_services",
                "intervention_equipment",
                "intervention_documents",
                "intervention_photos",
            ),
            1,
        )
        self.rows: dict[str, list[str]] = {}
        self._new_buffers()

    def _new_buffers(self) -> None:
        self.rows = {table: [] for table in APP_TABLES if table not in ("companies", "installers")}

    def chunks(self, chunk_size: int) -> Iterator[dict[str, list[str]]]:
        cases = self.plan.cases
        for index, case in enumerate(cases):
            self._intervention(index + 1, case)
            if (index + 1) % chunk_size == 0:
                yield self.rows
                self._new_buffers()
        yield self.rows

    # -- pieces ----------------------------------------------------------------------------------------------

    def _phone(self, case: Case) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.45:
            national = f"6{rng.choice(MOBILE_6_SECOND_DIGITS)}{rng.randrange(10_000_000):07d}"
        elif kind < 0.75:
            national = f"7{rng.choice(MOBILE_7_SECOND_DIGITS)}{rng.randrange(10_000_000):07d}"
        else:
            national = f"1{rng.randrange(100_000_000):08d}"
        if case == Case.PHONE_UNPARSEABLE:
            return rng.choice(UNPARSEABLE_PHONES)
        if case != Case.PHONE_FIXABLE:
            return f"+33{national}"
        pairs = [national[1:3], national[3:5], national[5:7], national[7:9]]
        style = rng.randrange(5)
        if style == 0:
            return f"0{national[0]} {' '.join(pairs)}"
        if style == 1:
            return f"0{national[0]}.{'.'.join(pairs)}"
        if style == 2:
            return f"0{national}"
        if style == 3:
            return f"+33 {national[0]} {' '.join(pairs)}"
        return f"0033{national}"

    def _pdl(self) -> str:
        # Never ending in 000 and never the partner's invalid test PDL: those are the "unknown PDL" defects.
        while True:
            pdl = f"{self.rng.randrange(100_000_000_000):011d}{self.rng.randrange(1, 1000):03d}"
            if pdl != PARTNER_INVALID_TEST_PDL:
                return pdl

    def _malformed_pdl(self) -> str:
        # Malformed whether or not the pipeline strips spaces: 13 digits, or 13 digits and a letter.
        rng = self.rng
        digits = f"{rng.randrange(10**13):013d}"
        style = rng.randrange(3)
        if style == 0:
            return digits
        if style == 1:
            position = rng.randrange(1, 13)
            return f"{digits[:position]}{rng.choice('ABXZ')}{digits[position:]}"
        return f"{digits[:4]} {digits[4:8]} {digits[8:12]} {digits[12:]}"

    def _unusable_address(self, street: str, city: City) -> tuple[str, str, str]:
        """An address a PDL lookup cannot use: postal code empty or not of 5 digits, or no street."""
        style = self.rng.randrange(3)
        if style == 0:
            # A spreadsheet ate the leading zero ('06000' -> '6000') or the code was cut short.
            return street, city.postal_code.lstrip("0")[:4], city.name
        if style == 1:
            return street, "", city.name
        return "", city.postal_code, city.name

    # -- one intervention ------------------------------------------------------------------------------------

    def _intervention(self, intervention_id: int, case: Case) -> None:
        rng = self.rng
        ts = self.ts
        plan = self.plan
        external_id = external_id_of(intervention_id)
        rows = self.rows

        # Completions move forward with the id, as in the app, so a high-water mark splits the table cleanly.
        base_day = (intervention_id - 1) * TIMELINE_DAYS // max(plan.interventions, 1)
        completed = (base_day + rng.randrange(3)) * 86400 + rng.randrange(8 * 3600, 18 * 3600)
        created = completed - rng.randrange(2 * 86400, 45 * 86400)

        if intervention_id in plan.repeat_customer:
            home = rng.choice(self.homes)
            customer_id = home.customer_id
        else:
            first = rng.choice(self.pools.first_names)
            last = rng.choice(self.pools.last_names)
            customer_id = self.next_customer_id
            self.next_customer_id += 1
            suffix = "" if rng.random() < 0.6 else str(rng.randrange(1, 100))
            email = f"{first.slug}.{last.slug}{suffix}@{rng.choice(CUSTOMER_EMAIL_DOMAINS)}"
            rows["customers"].append(
                f"{customer_id}\t{first.name}\t{last.name}\t{email}\t{self._phone(case)}\t{ts.text(created)}\n"
            )
            city = rng.choice(CITIES)
            street = rng.choice(self.pools.streets)
            number = rng.randrange(1, 160)
            address = f"{number} bis {street}" if rng.random() < 0.05 else f"{number} {street}"
            home = _Home(
                customer_id=customer_id,
                first_name=first.name,
                last_name=last.name,
                address=address,
                city=city,
                latitude=city.latitude + (rng.random() - 0.5) * 0.04,
                longitude=city.longitude + (rng.random() - 0.5) * 0.06,
                pdl=self._pdl(),
                pce=f"{rng.randrange(10**14):014d}" if rng.random() < 0.35 else None,
            )
            if case == Case.VALID:
                self.homes.append(home)

        address = home.address
        postal_code = home.city.postal_code
        city_name = home.city.name
        pdl: str | None = home.pdl
        if case == Case.PDL_UNKNOWN:
            pdl = PARTNER_INVALID_TEST_PDL if rng.random() < 0.1 else f"{rng.randrange(10**11):011d}000"
        elif case == Case.PDL_BAD_FORMAT_NO_ADDRESS:
            pdl = self._malformed_pdl()
            address, postal_code, city_name = self._unusable_address(address, home.city)
        elif case == Case.PDL_MISSING_NO_ADDRESS:
            pdl = None
            address, postal_code, city_name = self._unusable_address(address, home.city)
        elif case == Case.PDL_BAD_FORMAT_GOOD_ADDRESS:
            pdl = self._malformed_pdl()
        elif case == Case.PDL_MISSING_GOOD_ADDRESS:
            pdl = None
        elif case == Case.PDL_MISSING_POOR_ADDRESS:
            pdl = None
            address = rng.choice(ADDRESSES_WITHOUT_NUMBER)

        if case == Case.COMPANY_NOT_ONBOARDED:
            installer = rng.choice(self.reference.not_onboarded)
        elif case == Case.INSTALLER_INACTIVE:
            installer = rng.choice(self.reference.inactive)
        elif case == Case.INSTALLER_UNKNOWN:
            installer = rng.choice(self.reference.unknown)
        else:
            installer = rng.choice(self.reference.clean)

        # Services and equipment.
        services: list[Service] = [rng.choice(SERVICES)]
        if rng.random() < 0.2:
            second = rng.choice(SERVICES)
            if second.code != services[0].code:
                services.append(second)
        pce = home.pce
        if pce is None and any(service.gas for service in services):
            pce = f"{rng.randrange(10**14):014d}"
        for service in services:
            quantity = rng.randint(1, service.max_quantity)
            service_id = self.next_id["intervention_services"]
            self.next_id["intervention_services"] = service_id + 1
            rows["intervention_services"].append(
                f"{service_id}\t{intervention_id}\t{service.code}\t{service.name}\t{quantity}\n"
            )
            equipment = rng.choice(service.equipment)
            equipment_id = self.next_id["intervention_equipment"]
            self.next_id["intervention_equipment"] = equipment_id + 1
            serial = f"{equipment.serial_prefix}{rng.randrange(10**10):010d}"
            rows["intervention_equipment"].append(
                f"{equipment_id}\t{intervention_id}\t{equipment.name}\t{equipment.model}\t{serial}\t{quantity}\n"
            )

        # Status and what exists at that stage.
        status = "completed"
        completed_text = ts.text(completed)
        updated = completed + rng.randrange(30, 600)
        documents: list[tuple[str, str, str, int]] = []  # (type, title, file, created)
        photos: list[str] = []  # types
        if case == Case.SCHEDULED:
            status, completed_text, updated = "scheduled", NULL, created + rng.randrange(60, 3600)
            documents = [("contract", "Contrat Symphonics", "contract.pdf", created + 600)]
        elif case == Case.IN_PROGRESS:
            status, completed_text, updated = "in_progress", NULL, completed - 3 * 3600 + 60
            documents = [("contract", "Contrat Symphonics", "contract.pdf", created + 600)]
            photos = ["before"]
        elif case == Case.CANCELLED_BEFORE_COMPLETION:
            status, completed_text, updated = "cancelled", NULL, created + rng.randrange(86400, 10 * 86400)
            documents = [("contract", "Contrat Symphonics", "contract.pdf", created + 600)]
        else:
            if case == Case.MISSING_COMPLETION_DATE:
                completed_text = NULL
            if case != Case.MISSING_CONTRACT:
                documents.append(("contract", "Contrat Symphonics", "contract.pdf", created + 600))
            if case != Case.MISSING_ATTESTATION_HONNEUR:
                documents.append(("attestation_honneur", "Attestation d'Honneur", "ah.pdf", completed - 300))
            if case != Case.MISSING_INVOICE:
                documents.append(("invoice", "Facture", "invoice.pdf", completed))
            if intervention_id in plan.late_document:
                late = completed + rng.randrange(86400, 20 * 86400)
                documents.append(("additional_proof", "Preuve supplémentaire", "additional_proof.pdf", late))
                updated = late
            if case != Case.MISSING_BEFORE_PHOTO:
                photos.append("before")
            if case != Case.MISSING_AFTER_PHOTO:
                photos.append("after")

        customer_name = f"{home.first_name} {home.last_name}"
        # The row's updated_at is its last write, children included (the contract the triggers keep).
        updated = max([updated, *(document[3] for document in documents)])
        for doc_type, title, file_name, doc_created in documents:
            document_id = self.next_id["intervention_documents"]
            self.next_id["intervention_documents"] = document_id + 1
            rows["intervention_documents"].append(
                f"{document_id}\t{intervention_id}\t{doc_type}\t{title} - {customer_name} - "
                f"{ts.french_date(doc_created)}\t{DOCUMENT_BASE_URL}/{external_id}/{file_name}\t"
                f"{ts.text(doc_created)}\n"
            )

        without_coordinates = rng.choice(photos) if case == Case.PHOTO_WITHOUT_COORDINATES and photos else None
        for photo_type in photos:
            photo_id = self.next_id["intervention_photos"]
            self.next_id["intervention_photos"] = photo_id + 1
            if photo_type == without_coordinates:
                latitude, longitude = NULL, NULL
            elif photo_type == "after" and case == Case.PHOTOS_FAR_APART:
                # 3 to 7 km north or south: well past the partner's 1 km limit.
                offset = rng.uniform(0.03, 0.06) * rng.choice((-1, 1))
                latitude = f"{home.latitude + offset:.6f}"
                longitude = f"{home.longitude:.6f}"
            else:
                # Within ~20 m of the home: GPS noise.
                latitude = f"{home.latitude + (rng.random() - 0.5) * 0.0004:.6f}"
                longitude = f"{home.longitude + (rng.random() - 0.5) * 0.0006:.6f}"
            taken = (completed - 3 * 3600 if photo_type == "before" else completed - 600) + rng.randrange(300)
            updated = max(updated, taken)
            rows["intervention_photos"].append(
                f"{photo_id}\t{intervention_id}\t{photo_type}\t{PHOTO_BASE_URL}/{external_id}/{photo_type}_1.jpg\t"
                f"{latitude}\t{longitude}\t{ts.text(taken)}\n"
            )

        rows["interventions"].append(
            f"{intervention_id}\t{external_id}\t{status}\t{completed_text}\t{ts.text(updated)}\t{ts.text(created)}\t"
            f"{customer_id}\t{installer.id}\t{address or NULL}\t{postal_code or NULL}\t{city_name or NULL}\t"
            f"{pdl or NULL}\t{pce or NULL}\t{home.latitude:.6f}\t{home.longitude:.6f}\n"
        )


def _copy_rows(cur: psycopg.Cursor, table: str, lines: list[str]) -> None:
    if not lines:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier("public", table), sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS[table]))
    )
    with cur.copy(statement) as copy:
        copy.write("".join(lines))


def _set_triggers(cur: psycopg.Cursor, enabled: bool) -> None:
    action = sql.SQL("ENABLE") if enabled else sql.SQL("DISABLE")
    for table in TABLES_WITH_TOUCH_TRIGGERS:
        cur.execute(sql.SQL("ALTER TABLE {} {} TRIGGER USER").format(sql.Identifier("public", table), action))


_SECONDARY_INDEXES = sql.SQL(
    """
    SELECT quote_ident(i.indexname), i.indexdef
      FROM pg_indexes AS i
     WHERE i.schemaname = 'public' AND i.tablename = ANY(%(tables)s)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname
                          AND c.connamespace = 'public'::regnamespace)
     ORDER BY i.indexname
    """
)

_FOREIGN_KEYS = sql.SQL(
    """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(t.relname), quote_ident(c.conname),
           pg_get_constraintdef(c.oid)
      FROM pg_constraint AS c
      JOIN pg_class AS t ON t.oid = c.conrelid
      JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE c.contype = 'f' AND n.nspname = 'public' AND t.relname = ANY(%(tables)s)
     ORDER BY c.conname
    """
)


@contextmanager
def _bulk_load_window(cur: psycopg.Cursor) -> Iterator[None]:
    """Load into empty tables without their secondary indexes and foreign keys, then rebuild them once.

    Maintaining seven indexes and checking seven foreign keys row by row costs more than the COPY itself;
    building each index in one sort and validating each key in one join is several times faster. The
    definitions are read back from the catalogue, so schema.sql stays the only place that states them.
    Everything happens in the caller's transaction: a failure rolls the DDL back too.
    """
    cur.execute(_SECONDARY_INDEXES, {"tables": list(APP_TABLES)})
    indexes = [(str(name), str(definition)) for name, definition in cur.fetchall()]
    cur.execute(_FOREIGN_KEYS, {"tables": list(APP_TABLES)})
    foreign_keys = [(str(table), str(name), str(definition)) for table, name, definition in cur.fetchall()]
    for table, name, _ in foreign_keys:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.SQL(name)))
    for name, _ in indexes:
        cur.execute(sql.SQL("DROP INDEX public.{}").format(sql.SQL(name)))
    yield
    for _, definition in indexes:
        # Definitions from the catalogue, never from input.
        cur.execute(sql.SQL(definition))
    for table, name, definition in foreign_keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(table),
                sql.SQL(name),
                sql.SQL(definition),
            )
        )


def _move_identities_past_data(cur: psycopg.Cursor) -> None:
    # Rows were loaded with explicit ids: the app's next insert must not collide with them.
    for table in APP_TABLES:
        cur.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            ).format(name=sql.Literal(f"public.{table}"), table=sql.Identifier("public", table))
        )


def _generated_in_background(chunks: Iterator[dict[str, list[str]]], depth: int = 2) -> Iterator[dict[str, list[str]]]:
    """Make the chunks in a thread while the caller COPYs the previous ones.

    The server parses and indexes a chunk on one core while Python formats the next on the other; the GIL is
    released while psycopg waits on the socket.
    """
    ready: queue.Queue[dict[str, list[str]] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ready.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            ready.put(exc)

    producer = threading.Thread(target=produce, name="demo-row-generator", daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The consumer stopped early (a COPY failed): let the producer end, not block on a full queue.
        stop.set()
        producer.join()


def seed_database(
    dsn: str,
    *,
    interventions: int,
    seed: int,
    shares: Mapping[str, float] | None = None,
    reset: bool = False,
    chunk_size: int = 20_000,
) -> SeedReport:
    """Fill the app's tables with a demo data set, in one transaction.

    :param dsn: libpq DSN of the app database.
    :param interventions: N, the number of interventions (their customers and children follow).
    :param seed: the same seed, N and shares always give the same data.
    :param shares: overrides of the defect shares by name (see :mod:`include.symphonics_demo.plan`).
    :param reset: drop and recreate the app's tables first; without it the tables must be empty.
    :param chunk_size: interventions generated per round of COPY (bounds the memory used).
    :raises RuntimeError: when the app's tables already hold data and ``reset`` is not set.
    """
    started = time.perf_counter()
    plan = plan_dataset(seed, interventions, shares)
    pools = build_name_pools(seed)
    rng = random.Random(f"symphonics-demo-rows:{seed}")
    ts = _Timestamps()
    reference = _make_reference(rng, pools, plan, ts)
    writer = _InterventionWriter(plan, pools, rng, reference)
    report = SeedReport(plan=plan, rows=dict.fromkeys(APP_TABLES, 0))

    with psycopg.connect(dsn) as conn:
        with conn.transaction():
            apply_schema(conn, reset=reset)
            if app_tables_row_count(conn):
                raise RuntimeError("the app's tables already hold data: seed with --reset to replace them")
            with conn.cursor() as cur:
                # The loader sets updated_at itself; the per-row triggers would cost an UPDATE per child row.
                _set_triggers(cur, enabled=False)
                with _bulk_load_window(cur):
                    for table, lines in reference.rows.items():
                        _copy_rows(cur, table, lines)
                        report.rows[table] += len(lines)
                    for chunk in _generated_in_background(writer.chunks(chunk_size)):
                        for table in APP_TABLES:
                            lines = chunk.get(table, [])
                            _copy_rows(cur, table, lines)
                            report.rows[table] += len(lines)
                _set_triggers(cur, enabled=True)
                _move_identities_past_data(cur)
        # Fresh statistics, so that the extraction's plan uses its index from the first run.
        conn.execute(
            sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(sql.Identifier("public", table) for table in APP_TABLES))
        )

    counts = plan.case_counts()
    report.defect_counts = {case.value: count for case, count in counts.items()}
    report.defect_counts["repeat_customer"] = len(plan.repeat_customer)
    report.defect_counts["late_document"] = len(plan.late_document)
    report.defect_counts["companies_without_symphonics_id"] = reference.companies_without_symphonics_id
    report.defect_counts["inactive_installers"] = len(reference.inactive)
    report.defect_counts["unknown_installers"] = len(reference.unknown)
    report.seconds = time.perf_counter() - started
    log.info("seeded %s interventions in %.1f s", interventions, report.seconds)
    return report
