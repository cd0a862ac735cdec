"""``kind = "cucm"``: phones, owners and registration read live from Cisco Unified CM.

The inventory and owners come from AXL (:mod:`cucm_axl`), the current
registration from RisPort70 (:mod:`cucm_risport`). A phone in the inventory
that no node reports is unregistered. ``status_changed_at`` is RisPort's
``TimeStamp`` where a node reports the phone; ``last_seen_at`` is the later of
``registrationdynamic.lastseen`` and, for phones in use now, that
``TimeStamp``. Dates RisPort cannot give come from the registration history
(:mod:`licensewatch.rules.phone_history`), which the pipeline applies.

``record_to(folder)`` saves every SOAP answer of the next pull (``axl_0001.xml``
…, ``risport_0001.xml`` …) and a ``manifest.json``; ``kind = "cucm-export"``
replays such a folder through the same parsers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, LicensewatchError
from licensewatch.logs import get_logger
from licensewatch.model import DEFAULT_CLUSTER
from licensewatch.options import reject_unknown
from licensewatch.progress import Progress
from licensewatch.retry import RetryPolicy
from licensewatch.sources.cucm.assemble import assemble_phones, phone_key
from licensewatch.sources.cucm.axl import AxlInventory, busy_wait
from licensewatch.sources.cucm.export import CucmRecorder, check_owner_match
from licensewatch.sources.cucm.risport import MAX_BATCH, RateControl, RateLimiter, RisPortReader
from licensewatch.sources.cucm.risport_answer import merge
from licensewatch.sources.cucm.soap import SoapClient
from licensewatch.sources.interface import PhonesPull, PhonesSource

log = get_logger(__name__)

KEYS = (
    "axl_url",
    "axl_version",
    "username",
    "password_env",
    "ca_bundle",
    "verify_tls",
    "risport_url",
    "inventory",
    "risport_rate_per_minute",
    "risport_batch_size",
    "axl_page_size",
    "max_retries",
    "timeout_s",
    "owner_match",
)
INVENTORY_METHODS = ("sql", "listphone")


@dataclass(frozen=True)
class CucmOptions:
    """The validated options of ``[sources.phones]`` for ``kind = "cucm"``."""

    axl_url: str
    risport_url: str
    axl_version: str
    username: str
    password_env: str
    verify: bool | str
    inventory: str
    rate_per_minute: int
    batch_size: int
    page_size: int
    max_retries: int
    timeout_s: float
    owner_match: str


_WHERE = "[sources.phones]"


def _fail(key: str, message: str, hint: str | None = None, where: str = _WHERE) -> ConfigError:
    return ConfigError(f"{where} {key} {message}", hint=hint)


def _opt(
    options: Mapping[str, Any], key: str, kind: type, default: Any, where: str = _WHERE
) -> Any:
    value = options.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(key, f"must be {kind.__name__}, not {value!r}", where=where)
    return value


def _count(
    options: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str = _WHERE
) -> int:
    value = int(_opt(options, key, int, default, where))
    if not low <= value <= high:
        raise _fail(key, f"must be between {low} and {high}, not {value}", where=where)
    return value


def _https(url: str, where: str) -> str:
    if urlsplit(url).scheme != "https":
        raise _fail("risport_url", f"must be an https:// URL, not {url!r}", where=where)
    return url


def parse_options(
    settings: SourceSettings, where: str = _WHERE, keys: tuple[str, ...] = KEYS
) -> CucmOptions:
    """Validate one cluster's options for ``kind = "cucm"``; raises ``ConfigError``.

    ``where`` is the table they come from (``[sources.phones]``, or
    ``[sources.phones.clusters.<name>]``), named in every message; ``keys``
    the valid keys of that table.
    """
    o = settings.options
    reject_unknown(
        o,
        keys,
        where,
        listed=("kind", *keys) if where == _WHERE else keys,
        kind=settings.kind if where == _WHERE else None,
        hint=f"correct or remove the key in {where}",
    )
    if "axl_url" not in o:
        raise _fail(
            "axl_url",
            "is missing",
            'add axl_url = "https://cucm-pub.example.org:8443/axl/"',
            where,
        )
    axl_url = str(_opt(o, "axl_url", str, None, where))
    parts = urlsplit(axl_url)
    # Basic auth sends the password with every request: never over plain http.
    if parts.scheme != "https" or not parts.hostname:
        raise _fail("axl_url", f"must be an https:// URL, not {axl_url!r}", where=where)
    version = o.get("axl_version", "12.5")
    version = f"{version:.1f}" if isinstance(version, float) else version
    if not isinstance(version, str) or not version.replace(".", "").isdigit():
        raise _fail(
            "axl_version", f'must be a version such as "12.5", not {version!r}', where=where
        )
    for key in ("username", "password_env"):
        if not isinstance(o.get(key), str) or not o[key]:
            raise _fail(key, "is missing", f'add {key} = "..." to {where}', where)
    default_ris = f"{parts.scheme}://{parts.netloc}/realtimeservice2/services/RISService70"
    verify: bool | str = bool(_opt(o, "verify_tls", bool, True, where))
    if "ca_bundle" in o:
        bundle = settings.path("ca_bundle")
        if not bundle.is_file():
            raise _fail("ca_bundle", f"names {bundle}, which does not exist", where=where)
        verify = str(bundle) if verify else False
    inventory = _opt(o, "inventory", str, "sql", where)
    if inventory not in INVENTORY_METHODS:
        allowed = ", ".join(INVENTORY_METHODS)
        raise _fail("inventory", f"must be one of {allowed}, not {inventory!r}", where=where)
    timeout = float(_opt(o, "timeout_s", float, 120.0, where))
    if timeout <= 0:
        raise _fail("timeout_s", f"must be more than 0, not {timeout}", where=where)
    return CucmOptions(
        axl_url=axl_url,
        risport_url=_https(_opt(o, "risport_url", str, default_ris, where), where),
        axl_version=version,
        username=o["username"],
        password_env=o["password_env"],
        verify=verify,
        inventory=inventory,
        rate_per_minute=_count(o, "risport_rate_per_minute", 15, 1, 1000, where),
        batch_size=_count(o, "risport_batch_size", MAX_BATCH, 1, MAX_BATCH, where),
        page_size=_count(o, "axl_page_size", 1000, 1, 100_000, where),
        max_retries=_count(o, "max_retries", RetryPolicy.max_retries, 0, 20, where),
        timeout_s=timeout,
        owner_match=check_owner_match(settings, o.get("owner_match", "upn")),
    )


@dataclass(frozen=True)
class PullStats:
    """Counts of the last pull, for logs and benchmarks."""

    inventory: str
    axl_requests: int
    risport_requests: int
    rate_limit_wait_s: float
    rate_control_faults: int


class CucmSource(PhonesSource):
    """Reads ``[sources.phones]`` with ``kind = "cucm"`` (see the module docstring)."""

    KEYS: ClassVar[tuple[str, ...]] = KEYS
    remote: ClassVar[bool] = True

    def __init__(
        self,
        settings: SourceSettings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
        cluster: str = DEFAULT_CLUSTER,
        where: str = _WHERE,
        keys: tuple[str, ...] = KEYS,
    ) -> None:
        self.options = parse_options(settings, where, keys)
        self.cluster = cluster
        env = os.environ if environ is None else environ
        password = env.get(self.options.password_env, "")
        if not password:
            raise ConfigError(
                f"{where} password_env names {self.options.password_env}, which is not set",
                hint=f"export {self.options.password_env} with the AXL user's password",
            )
        self._auth = (self.options.username, password)
        self._session = session if session is not None else requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._recorder: CucmRecorder | None = None
        self.stats: PullStats | None = None

    def record_to(self, folder: Path) -> None:
        """Make the next ``pull()`` save every raw answer into ``folder`` (``pull --save``)."""
        self._recorder = CucmRecorder(folder)

    def _client(
        self, service: str, url: str, recorder: CucmRecorder | None, **kw: Any
    ) -> SoapClient:
        o = self.options
        return SoapClient(
            service,
            url,
            auth=self._auth,
            verify=o.verify,
            timeout_s=o.timeout_s,
            policy=RetryPolicy(max_retries=o.max_retries),
            session=self._session,
            sleep=self._sleep,
            on_exchange=recorder,
            **kw,
        )

    def _clients(
        self, recorder: CucmRecorder | None
    ) -> tuple[SoapClient, SoapClient, RateLimiter, RateControl]:
        """The AXL and RisPort clients of one pull, RisPort's rate limiter and fault counter."""
        o = self.options
        axl = self._client(
            "AXL",
            o.axl_url,
            recorder,
            fault_wait=busy_wait,
            hint="check username, password_env and the user's Standard AXL API Access role",
        )
        limiter = RateLimiter(o.rate_per_minute, clock=self._clock, sleep=self._sleep)
        rate_control = RateControl()
        ris = self._client(
            "RisPort",
            o.risport_url,
            recorder,
            before_request=limiter.acquire,
            fault_wait=rate_control,
            hint="the user needs the Standard CCM Admin Users and Standard SERVICEABILITY roles",
        )
        return axl, ris, limiter, rate_control

    def pull(self) -> PhonesPull:
        """Read inventory, owners and registration; raise rather than return a partial pull."""
        o, recorder = self.options, self._recorder
        self._recorder = None
        if recorder is not None:
            recorder.start()
        axl, ris, limiter, rate_control = self._clients(recorder)
        method, error, complete = o.inventory, "interrupted", False
        tag = "CUCM" if self.cluster == DEFAULT_CLUSTER else f"CUCM {self.cluster}"
        try:
            with Progress(f"{tag} AXL inventory", unit="phones", clock=self._clock) as bar:
                reader = AxlInventory(
                    axl, o.axl_version, page_size=o.page_size, on_rows=bar.advance
                )
                inventory = reader.read(o.inventory)
            method = inventory.method
            # Each phone's key once: for the names asked (each once) and the phones' assembly.
            keys = [phone_key(p) for p in inventory.phones]
            names = list(dict(zip(keys, (p.name for p in inventory.phones), strict=True)).values())
            with Progress(
                f"{tag} RisPort", total=len(names), unit="phones", clock=self._clock
            ) as bar:
                regs = RisPortReader(
                    ris,
                    batch_size=o.batch_size,
                    max_retries=o.max_retries,
                    sleep=self._sleep,
                    on_batch=bar.advance,
                ).read(names)
            phones = assemble_phones(inventory.phones, merge(regs.answers), self.cluster, keys)
            complete = True
        except LicensewatchError as exc:
            error = exc.one_line()
            raise
        finally:
            if recorder is not None and not complete:
                recorder.finish(complete=False, inventory=method, error=error)
        notes = [] if o.verify else [f"{tag}: verify_tls = false: its certificate was not checked"]
        if rate_control.faults:
            notes.append(f"{tag}: RisPort refused {rate_control.faults} requests for rate control")
        notes += [*inventory.notes, *(f"{tag}: {n}" for n in regs.notes)]
        self.stats = PullStats(
            method, axl.requests, ris.requests, limiter.waited_s, rate_control.faults
        )
        if recorder is not None:
            recorder.finish(
                complete=True,
                inventory=method,
                axl_version=o.axl_version,
                cluster=self.cluster,
                saved_at=datetime.now(UTC).isoformat(),
                phones=len(phones),
                requests={"axl": axl.requests, "risport": ris.requests},
                notes=notes,
            )
        log.info(
            "%s: %d phones (%s) in %d AXL + %d RisPort requests",
            tag,
            len(phones),
            method,
            axl.requests,
            ris.requests,
        )
        return PhonesPull(
            phones=phones,
            requests=axl.requests + ris.requests,
            notes=tuple(notes),
            clusters=(self.cluster,),
        )
