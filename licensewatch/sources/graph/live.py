"""Kind ``graph`` for ``[sources.accounts]``: users, licences and sign-in activity, live from Graph.

Signs in as an application (``graph_auth``), then reads ``subscribedSkus`` and
every users page (``$select`` with ``signInActivity``), following
``@odata.nextLink`` verbatim until it is absent. Tenants without Entra ID P1/P2
answer 403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant`` to
``signInActivity``; then (or with ``activity = "usage-report"``) the users are
read without it and activity comes from the Microsoft 365 active-user report.
After the last page the paged users are cross-checked with ``GET /users/$count``
(``graph_chain``): a pull that lost pages fails. Parsing is ``graph_export``'s,
so a saved pull (``record_to``) replays to the same frames.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO
from urllib.parse import urljoin

import msgspec
import pandas as pd
import requests

from licensewatch.ahead import Ahead
from licensewatch.config import SourceSettings
from licensewatch.errors import InputError, SourceAuthError, SourceError
from licensewatch.graph.auth import load_credential
from licensewatch.graph.client import GraphHttp, describe, open_graph
from licensewatch.graph.errors import GraphForbidden, GraphRefused
from licensewatch.graph.options import OPTIONS, SIGN_IN, USAGE_REPORT, GraphOptions
from licensewatch.logs import get_logger
from licensewatch.progress import Progress
from licensewatch.sources.graph import typed_page
from licensewatch.sources.graph.chain import COUNT_PATH, check_count, count_tolerance, parse_count
from licensewatch.sources.graph.export import (
    SKUS_FILE,
    parse_subscribed_skus,
    parse_users_pages,
    unknown_sku_note,
)
from licensewatch.sources.graph.record import REPORT_FILE, Recorder, check_record_folder
from licensewatch.sources.graph.seats import LicenseStates, SeatData
from licensewatch.sources.graph.seats_live import read_live_seats
from licensewatch.sources.graph.usage_report import (
    UsageActivity,
    apply_usage_activity,
    parse_usage_report,
)
from licensewatch.sources.graph.user_fields import STATES_FIELD
from licensewatch.sources.interface import AccountsPull, AccountsSource

__all__ = [
    "NON_PREMIUM",
    "REPORT_FILE",
    "REPORT_PATH",
    "SIGN_IN",
    "SKUS_FILE",
    "USAGE_REPORT",
    "USER_FIELDS",
    "GraphOptions",
    "GraphSource",
    "Recorder",
    "check_record_folder",
]

log = get_logger(__name__)

USER_FIELDS = (
    "id",
    "userPrincipalName",
    "mail",
    "employeeId",
    "displayName",
    "department",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "assignedLicenses",
)
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
REPORT_PATH = "/reports/getOffice365ActiveUserDetail(period='D180')"
VERIFY_COUNT_OFF = (
    "verify_count = false in [sources.accounts]: the users were not cross-checked with "
    "GET /users/$count, so this pull is not proven complete and no licence it lacks is booked "
    "as removed"
)


class GraphSource(AccountsSource):
    """Accounts and licences read live from Microsoft Graph (see the module docstring).

    ``environ``, ``sleep``, ``random``, ``clock``, ``progress_stream`` and
    ``session_factory`` are injectable so that tests neither wait nor touch the
    network; production uses the defaults.
    """

    KEYS: ClassVar[tuple[str, ...]] = tuple(OPTIONS)
    remote: ClassVar[bool] = True

    def __init__(
        self,
        settings: SourceSettings,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress_stream: TextIO | None = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        self.options = GraphOptions.from_settings(settings)
        self._environ = environ
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._progress_stream = progress_stream
        self._session_factory = session_factory
        self._record: Path | None = None

    def check(self) -> None:
        """Load the credential and check the CA bundle, without any network call."""
        load_credential(self.options, self._environ)

    def record_to(self, folder: Path) -> None:
        """Make the next pull write every raw response into ``folder`` (graph-export replays it).

        Files appear only when the pull completes: ``users_0001.json`` … and
        ``subscribedSkus.json`` exactly as received, plus ``usage_report.csv``
        when activity came from the usage report.
        """
        check_record_folder(folder)
        self._record = folder

    def pull(self) -> AccountsPull:
        """Read every user and licence; raises rather than return a partial pull."""
        credential = load_credential(self.options, self._environ)
        session = self._session_factory()
        recorder = Recorder(self._record) if self._record is not None else None
        try:
            http = open_graph(
                self.options,
                credential,
                session,
                sleep=self._sleep,
                random=self._random,
                clock=self._clock,
            )
            accounts, licenses, signal, notes, complete, seats = self._read(http, recorder)
        finally:
            session.close()
            if recorder is not None:
                recorder.cleanup()
        log.info(
            "Graph: %d accounts, %d licences; %d Graph and %d sign-in requests; activity from %s",
            len(accounts),
            len(licenses),
            http.requests,
            http.token_requests,
            signal,
        )
        if not complete:
            notes = (*notes, VERIFY_COUNT_OFF)
        return AccountsPull(
            accounts,
            licenses,
            signal=signal,
            requests=http.requests + http.token_requests,
            notes=(*notes, *(seats.notes if seats else ())),
            complete=complete,
            seats=seats.seats if seats else None,
            subscriptions=seats.subscriptions if seats else None,
            license_states=seats.license_states if seats else None,
        )

    def _read(
        self, http: GraphHttp, recorder: Recorder | None
    ) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...], bool, SeatData | None]:
        """Accounts, licences, signal, notes, whether ``$count`` proved it complete, seats."""
        try:
            run = _Run(self.options, http, recorder, self._progress_stream)
            accounts, licenses, signal, notes = run.read()
            seats = run.seats()
            if recorder is not None:
                recorder.activity = signal
            complete = run.verify_count()
        except InputError as exc:
            # Graph answered in full but with content we cannot use: keep what it said.
            if recorder is not None:
                recorder.commit()
            raise SourceError(
                f"Graph answered something licensewatch cannot use: {exc.message}",
                hint=f"its raw responses are in {recorder.folder}"
                if recorder is not None
                else "licensewatch pull --save DIR keeps the raw responses for a closer look",
            ) from None
        if recorder is not None:
            recorder.commit()
        return accounts, licenses, signal, notes, complete, seats


class _Run:
    """One pull: the requests in order, and what each answer becomes."""

    def __init__(
        self,
        options: GraphOptions,
        http: GraphHttp,
        recorder: Recorder | None,
        stream: TextIO | None,
    ) -> None:
        self.options = options
        self.stream = stream
        self.http = http
        self.recorder = recorder
        self.base = self.options.graph_url
        #: Users in the value arrays of the last users pass (what $count is checked against).
        self.paged = 0
        #: With ``seats = true``: the users' licence states and the subscribedSkus answer.
        self.states = LicenseStates()
        self.skus_doc: Any = None

    def seats(self) -> SeatData | None:
        """Seats, subscriptions and licensing groups (``seats = true``), after the users."""
        if not self.options.seats:
            return None
        return read_live_seats(self.http, self.base, self.skus_doc, self.states, self._save)

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...]]:
        doc, raw = self.http.get_json(f"{self.base}/subscribedSkus")
        self._save(SKUS_FILE, raw)
        self.skus_doc = doc
        skus = parse_subscribed_skus(doc, origin="GET /subscribedSkus")
        notes: list[str] = []
        if self.options.activity == SIGN_IN:
            try:
                accounts, licenses = self._users(skus, sign_in=True)
                log.info("activity signal: signInActivity (Microsoft Entra sign-in activity)")
                return accounts, licenses, SIGN_IN, self._notes(licenses, notes)
            except GraphForbidden as exc:
                if exc.code != NON_PREMIUM:
                    raise
                notes.append(
                    f"Graph answered 403 {NON_PREMIUM} to signInActivity (the tenant has no "
                    "Microsoft Entra ID P1/P2): activity comes from the Microsoft 365 usage report"
                )
                log.warning("%s", notes[-1])
                if self.recorder is not None:
                    self.recorder.drop_users()
        accounts, licenses = self._users(skus, sign_in=False)
        usage = self._usage_report()
        accounts = apply_usage_activity(accounts, usage.last_activity)
        refreshed = usage.refreshed_on.date().isoformat() if usage.refreshed_on else "unknown"
        notes.append(
            f"activity from the Microsoft 365 usage report getOffice365ActiveUserDetail (last 180 "
            f"days, refreshed {refreshed}, {usage.rows:,} rows): no activity in 180 days reads "
            "as no sign-in"
            + (f"; saved as {REPORT_FILE} beside the pages" if self.recorder is not None else "")
        )
        log.info("activity signal: usage-report (%s)", notes[-1])
        return accounts, licenses, USAGE_REPORT, self._notes(licenses, notes)

    @staticmethod
    def _notes(licenses: pd.DataFrame, notes: list[str]) -> tuple[str, ...]:
        unknown = unknown_sku_note(licenses)
        return (*notes, unknown) if unknown else tuple(notes)

    def _save(self, name: str, data: bytes) -> None:
        if self.recorder is not None:
            self.recorder.save(name, data)

    def _users(
        self, skus: Mapping[str, str], *, sign_in: bool
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        fields = ",".join(USER_FIELDS + ((SIGN_IN,) if sign_in else ()))
        if self.options.seats:  # issue 17: how each licence is held (sources/graph/seats.py)
            fields += f",{STATES_FIELD}"
            self.states = LicenseStates()
        url = f"{self.base}/users?$select={fields}&$top={self.options.page_size}"
        self.paged = 0
        with Progress("Graph users", unit="pages", stream=self.stream) as progress:
            pages = self._pages(url, progress, keep_context=sign_in)
            if self.options.seats:
                pages = self.states.watch(pages)
            return parse_users_pages(pages, skus, origin="GET /users")

    def _pages(self, url: str, progress: Progress, *, keep_context: bool) -> Iterator[Any]:
        """Every users page from ``url`` on, following ``@odata.nextLink``.

        The next page is asked for (in a worker thread) as soon as this one's link
        is known, while this one is read into columns: Graph answers it while we
        read, not after (issue 18). One request is in flight at a time, in the
        order of the links, each page asked for exactly once.
        """
        users = 0
        number = 0
        # Decoded straight into the fields read where the page allows (typed_page).
        decode = typed_page.decode_with_states if self.options.seats else typed_page.decode
        with Ahead("graph-next-page") as ahead:
            asked = url
            pending: Future[tuple[Any, bytes]] | None = ahead.submit(
                self.http.get_decoded, url, decode
            )
            while pending is not None:
                doc, raw = pending.result()
                value = doc.value if isinstance(doc, typed_page.Page) else doc.get("value")
                if not isinstance(value, list):
                    raise SourceError(f"Graph answered GET {describe(asked)} without a value array")
                number += 1
                users += len(value)
                self.paged = users
                progress.advance(1, extra=f"{users:,} users")
                link = (
                    doc.next_link
                    if isinstance(doc, typed_page.Page)
                    else doc.get("@odata.nextLink")
                )
                if link is not None and (not isinstance(link, str) or link == asked):
                    raise SourceError(
                        f"Graph answered GET {describe(asked)} with a bad @odata.nextLink "
                        "(not a link, or the same page again)"
                    )
                pending = None
                if link is not None:
                    pending, asked = ahead.submit(self.http.get_decoded, link, decode), link
                if self.recorder is not None:
                    self.recorder.save_page(
                        f"users_{number:04d}.json", raw, users=len(value), next_link=link
                    )
                # graph_export rejects pages whose @odata.context lacks signInActivity (an
                # export mistake); here the usage report supplies activity, so the context
                # is not shown.
                if keep_context:
                    yield doc
                elif isinstance(doc, typed_page.Page):
                    yield msgspec.structs.replace(doc, context=None)
                else:
                    yield {k: v for k, v in doc.items() if k != "@odata.context"}

    def verify_count(self) -> bool:
        """Cross-check the paged users with ``GET /users/$count``; False when switched off.

        The users query has no ``$filter``, so ``$count`` counts the same users.
        Raises ``SourceError`` when they disagree beyond ``count_tolerance`` or
        when Graph will not count (fix the permission or set ``verify_count = false``).
        """
        if not self.options.verify_count:
            log.warning("%s", VERIFY_COUNT_OFF)
            return False
        url = f"{self.base}{COUNT_PATH}"
        where = f"GET {describe(url)}"
        try:
            response = self.http.get(
                url, headers={"ConsistencyLevel": "eventual", "Accept": "text/plain"}
            )
        except (GraphForbidden, GraphRefused) as exc:
            raise SourceError(
                f"Graph would not count the users, so the pull cannot prove it is complete: "
                f"{exc.message}",
                hint="grant User.Read.All (application) and admin consent, or set verify_count = "
                "false in [sources.accounts] (then no licence is booked as removed)",
            ) from None
        counted = parse_count(response.content, where=where)
        check_count(self.paged, counted, where=f"Graph {where}")
        if self.recorder is not None:
            self.recorder.count = counted
        log.info(
            "Graph user count verified: %d paged, $count %d (tolerance %d)",
            self.paged,
            counted,
            count_tolerance(counted),
        )
        return True

    def _usage_report(self) -> UsageActivity:
        url = f"{self.base}{REPORT_PATH}"
        try:
            response = self.http.get(url, allow_redirects=False)
            if response.is_redirect:
                location = response.headers.get("Location", "")
                if not location:
                    raise SourceError(f"Graph answered GET {describe(url)} 302 without Location")
                # The download link is pre-authenticated: the bearer token must not go there.
                response = self.http.get(urljoin(url, location), anonymous=True)
        except GraphForbidden as exc:
            raise SourceAuthError(
                exc.message,
                hint="grant the application permission Reports.Read.All and admin consent: the "
                "usage report is the activity signal of tenants without Entra ID P1/P2",
            ) from None
        self._save(REPORT_FILE, response.content)
        try:
            return parse_usage_report(response.content, name="getOffice365ActiveUserDetail")
        except InputError as exc:
            raise SourceError(
                f"the Microsoft 365 usage report is not in the documented shape: {exc.message}"
            ) from None
