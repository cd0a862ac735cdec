"""Kind ``graph`` for ``[sources.accounts]``: users, licences and sign-in activity, live from Graph.

Signs in as an application (``graph_auth``), then reads ``subscribedSkus`` and
every users page (``$select`` with ``signInActivity``), following
``@odata.nextLink`` verbatim until it is absent. Tenants without Entra ID P1/P2
answer 403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant`` to
``signInActivity``; then (or with ``activity = "usage-report"``) the users are
read without it and activity comes from the Microsoft 365 active-user report.
Parsing is ``graph_export``'s, so a saved pull (``record_to``) replays to the
same frames.
"""

from __future__ import annotations

import os
import random as _random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import pandas as pd
import requests

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, SourceAuthError, SourceError
from licensewatch.logs import get_logger
from licensewatch.progress import Progress
from licensewatch.sources.graph_auth import (
    Credential,
    MsalTokens,
    certificate_from_file,
    graph_scope,
    secret_from_env,
)
from licensewatch.sources.graph_export import (
    parse_subscribed_skus,
    parse_users_pages,
    unknown_sku_note,
)
from licensewatch.sources.graph_http import GraphForbidden, GraphHttp, RetryPolicy, describe
from licensewatch.sources.interface import AccountsPull, AccountsSource
from licensewatch.sources.usage_report import (
    UsageActivity,
    apply_usage_activity,
    parse_usage_report,
)

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
SIGN_IN = "signInActivity"
USAGE_REPORT = "usage-report"
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
REPORT_PATH = "/reports/getOffice365ActiveUserDetail(period='D180')"
REPORT_FILE = "usage_report.csv"
SKUS_FILE = "subscribedSkus.json"
MAX_PAGE_SIZE = 999  # Graph's largest $top for users
LOOPBACK = ("127.0.0.1", "localhost", "::1")
OPTIONS: dict[str, type] = {
    "tenant_id": str,
    "client_id": str,
    "client_secret_env": str,
    "certificate_path": str,
    "certificate_thumbprint": str,
    "certificate_password_env": str,
    "authority": str,
    "graph_url": str,
    "ca_bundle": str,
    "page_size": int,
    "activity": str,
    "max_retries": int,
    "timeout_s": float,
}


@dataclass(frozen=True)
class GraphOptions:
    """The validated options of ``[sources.accounts]`` with ``kind = "graph"``."""

    tenant_id: str
    client_id: str
    client_secret_env: str | None = None
    certificate_path: Path | None = None
    certificate_thumbprint: str | None = None
    certificate_password_env: str | None = None
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: Path | None = None
    page_size: int = 500
    activity: str = SIGN_IN
    max_retries: int = 6
    timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: SourceSettings) -> GraphOptions:
        """Check keys, types, ranges and combinations; raise ``ConfigError`` naming the key."""
        where = f"[sources.{settings.feed}] (kind 'graph')"
        v = _typed_options(settings, where)
        for key in ("tenant_id", "client_id"):
            if not v.get(key, "").strip():
                raise ConfigError(f"{where} needs {key!r}", hint=f'add {key} = "..." to it')
        if ("client_secret_env" in v) == ("certificate_path" in v):
            raise ConfigError(
                f"{where} needs exactly one of client_secret_env and certificate_path",
                hint="name the environment variable holding the client secret, or the "
                "certificate file (PEM or PFX) of the app registration",
            )
        for key in ("certificate_thumbprint", "certificate_password_env"):
            if key in v and "certificate_path" not in v:
                raise ConfigError(f"{where} has {key} but no certificate_path")
        options = cls(
            tenant_id=v["tenant_id"].strip(),
            client_id=v["client_id"].strip(),
            client_secret_env=v.get("client_secret_env"),
            certificate_path=settings.path("certificate_path") if "certificate_path" in v else None,
            certificate_thumbprint=v.get("certificate_thumbprint"),
            certificate_password_env=v.get("certificate_password_env"),
            authority=_url(where, "authority", v.get("authority", cls.authority), https=True),
            graph_url=_url(where, "graph_url", v.get("graph_url", cls.graph_url), https=False),
            ca_bundle=settings.path("ca_bundle") if "ca_bundle" in v else None,
            page_size=v.get("page_size", cls.page_size),
            activity=v.get("activity", cls.activity),
            max_retries=v.get("max_retries", cls.max_retries),
            timeout_s=v.get("timeout_s", cls.timeout_s),
        )
        _check_ranges(where, options)
        return options


def _typed_options(settings: SourceSettings, where: str) -> dict[str, Any]:
    unknown = sorted(set(settings.options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
            f"{where}; valid keys are: kind, {', '.join(OPTIONS)}",
            hint="correct or remove the key",
        )
    values: dict[str, Any] = {}
    for key, value in settings.options.items():
        kind = OPTIONS[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(
                f"{where} {key} must be {kind.__name__}, not {type(value).__name__} ({value!r})"
            )
        values[key] = value
    return values


def _url(where: str, key: str, value: str, *, https: bool) -> str:
    parts = urlsplit(value.strip())
    # MSAL accepts only https authorities; plain http is tolerated for a local Graph stand-in.
    local_http = not https and parts.scheme == "http" and parts.hostname in LOOPBACK
    if not parts.hostname or not (parts.scheme == "https" or local_http):
        raise ConfigError(f"{where} {key} must be an https URL, not {value!r}")
    return value.strip().rstrip("/")


def _check_ranges(where: str, o: GraphOptions) -> None:
    if o.activity not in (SIGN_IN, USAGE_REPORT):
        raise ConfigError(
            f"{where} activity must be {SIGN_IN!r} or {USAGE_REPORT!r}, not {o.activity!r}"
        )
    if not 1 <= o.page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"{where} page_size must be 1 to {MAX_PAGE_SIZE}, not {o.page_size}")
    if not 0 <= o.max_retries <= 20:
        raise ConfigError(f"{where} max_retries must be 0 to 20, not {o.max_retries}")
    if not 0 < o.timeout_s <= 600:
        raise ConfigError(f"{where} timeout_s must be more than 0 and at most 600")


class GraphSource(AccountsSource):
    """Accounts and licences read live from Microsoft Graph (see the module docstring).

    ``environ``, ``sleep``, ``random``, ``clock``, ``progress_stream`` and
    ``session_factory`` are injectable so that tests neither wait nor touch the
    network; production uses the defaults.
    """

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

    def credential(self) -> Credential:
        """The app's credential (secret from the environment, or the certificate file)."""
        environ = self._environ if self._environ is not None else os.environ
        o = self.options
        if o.client_secret_env is not None:
            return secret_from_env(o.client_secret_env, environ)
        assert o.certificate_path is not None  # GraphOptions guarantees one or the other
        return certificate_from_file(
            o.certificate_path,
            thumbprint=o.certificate_thumbprint,
            password_env=o.certificate_password_env,
            environ=environ,
        )

    def check(self) -> None:
        """Load the credential and check the CA bundle, without any network call."""
        self._checked_credential()

    def _checked_credential(self) -> Credential:
        credential = self.credential()
        bundle = self.options.ca_bundle
        if bundle is not None and not bundle.is_file():
            raise InputError.single(str(bundle), "ca_bundle file does not exist")
        return credential

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
        credential = self._checked_credential()
        o = self.options
        session = self._session_factory()
        session.verify = str(o.ca_bundle) if o.ca_bundle is not None else True
        recorder = Recorder(self._record) if self._record is not None else None
        timeout = (min(10.0, o.timeout_s), o.timeout_s)
        try:
            tokens = MsalTokens(
                tenant_id=o.tenant_id,
                client_id=o.client_id,
                credential=credential,
                session=session,
                timeout=timeout,
                authority=o.authority,
                scope=graph_scope(o.graph_url),
            )
            http = GraphHttp(
                tokens,
                graph_url=o.graph_url,
                session=session,
                timeout=timeout,
                policy=RetryPolicy(max_retries=o.max_retries),
                # Looked up at pull time so that a run can be made not to wait (tests).
                sleep=time.sleep if self._sleep is None else self._sleep,
                random=self._random,
                clock=self._clock,
            )
            try:
                run = _Run(o, http, recorder, self._progress_stream)
                accounts, licenses, signal, notes = run.read()
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
        finally:
            session.close()
            if recorder is not None:
                recorder.cleanup()
        requests_made = http.requests + tokens.requests
        log.info(
            "Graph: %d accounts, %d licences; %d Graph and %d sign-in requests; activity from %s",
            len(accounts),
            len(licenses),
            http.requests,
            tokens.requests,
            signal,
        )
        return AccountsPull(accounts, licenses, signal=signal, requests=requests_made, notes=notes)


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

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...]]:
        doc, raw = self.http.get_json(f"{self.base}/subscribedSkus")
        self._save(SKUS_FILE, raw)
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
        url = f"{self.base}/users?$select={fields}&$top={self.options.page_size}"
        progress = Progress("Graph users", unit="pages", stream=self.stream)
        pages = self._pages(url, progress, keep_context=sign_in)
        accounts, licenses = parse_users_pages(pages, skus, origin="GET /users")
        progress.finish()
        return accounts, licenses

    def _pages(self, url: str, progress: Progress, *, keep_context: bool) -> Iterator[Any]:
        users = 0
        number = 0
        next_url: str | None = url
        while next_url is not None:
            doc, raw = self.http.get_json(next_url)
            value = doc.get("value")
            if not isinstance(value, list):
                raise SourceError(f"Graph answered GET {describe(next_url)} without a value array")
            number += 1
            users += len(value)
            self._save(f"users_{number:04d}.json", raw)
            progress.advance(1, extra=f"{users:,} users")
            link = doc.get("@odata.nextLink")
            if link is not None and (not isinstance(link, str) or link == next_url):
                raise SourceError(
                    f"Graph answered GET {describe(next_url)} with a bad @odata.nextLink "
                    "(not a link, or the same page again)"
                )
            next_url = link
            # graph_export rejects pages whose @odata.context lacks signInActivity (an export
            # mistake); here the usage report supplies activity, so the context is not shown.
            yield doc if keep_context else {k: v for k, v in doc.items() if k != "@odata.context"}

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


def check_record_folder(folder: Path) -> None:
    """Refuse a folder that already holds a saved pull: mixed pages would replay wrongly."""
    if folder.is_dir():
        taken = sorted(p.name for p in folder.iterdir() if _saved_name(p.name))
        if taken:
            raise ConfigError(
                f"{folder} already holds a saved pull ({', '.join(taken[:3])}…)",
                hint="save into a new or empty folder",
            )


def _saved_name(name: str) -> bool:
    return name.startswith("users") or name in (SKUS_FILE, REPORT_FILE)


class Recorder:
    """Raw responses of one pull, staged in a hidden folder and moved into place on success.

    A pull that fails leaves nothing behind, so a saved folder is always a whole run.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))

    def save(self, name: str, data: bytes) -> None:
        """Write one response body, byte for byte."""
        (self._staging / name).write_bytes(data)

    def drop_users(self) -> None:
        """Forget the users pages read so far (the pull starts the users again)."""
        for path in self._staging.glob("users_*.json"):
            path.unlink()

    def commit(self) -> None:
        """Move every staged file into the folder."""
        for path in sorted(self._staging.iterdir()):
            os.replace(path, self.folder / path.name)
        log.info("raw Graph responses saved in %s", self.folder)

    def cleanup(self) -> None:
        """Remove the staging folder (and whatever a failed pull left in it)."""
        shutil.rmtree(self._staging, ignore_errors=True)
