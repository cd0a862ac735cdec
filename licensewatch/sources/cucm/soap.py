"""SOAP over HTTP for the Cisco Unified CM sources (AXL, RisPort70).

What every CUCM call needs, in one place: safe XML parsing (no DTDs, no entity
expansion, no external references: a response that carries any of them is
refused), envelopes with escaped text, SOAP faults read into
:class:`SoapFault` (with AXL's ``axlError`` detail), and one HTTP helper that
sets a timeout on every request, uses HTTP Basic auth, verifies TLS as
configured, and retries connection errors, 5xx and 429 through the retry loop
every HTTP client shares (:mod:`licensewatch.retry`). ``sleep`` and the jitter
are injectable so that tests never wait.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Final, cast
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import requests
from lxml import etree

from licensewatch.errors import SourceAuthError, SourceError, SourceUnavailable
from licensewatch.logs import get_logger
from licensewatch.retry import Done, Fatal, Outcome, Retry, RetryPolicy, Waited, retrying

log = get_logger(__name__)

SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


class UnsafeXmlError(SourceError):
    """A response declared a DTD or entities, which a SOAP answer never needs."""


#: libxml2 (lxml) with defusedxml's protections: no DTD loaded, no entity resolved, no
#: network; a response that declares a DOCTYPE at all is then refused (:func:`parse_xml`).
#: C parsing: defusedxml's pure-Python callbacks took 31 s of the 1M night (issue 18).
_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes, *, what: str) -> Element:
    """Parse ``data`` refusing DTDs, entity declarations and external references.

    ``what`` names the response in the error ("AXL listPhone response").
    """
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{what} is not well-formed XML: {exc}") from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXmlError(
            f"{what} refused: it declares a DTD or entities (DOCTYPE)",
            hint="a SOAP response never needs one; check what answers at this URL",
        )
    # lxml's element answers the ElementTree API the helpers below use.
    return cast(Element, root)


def local(tag: str) -> str:
    """An element's name without its namespace (``{ns}name`` → ``name``)."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> Iterator[Element]:
    """Direct children of ``element`` named ``name`` in any namespace."""
    return (child for child in element if local(child.tag) == name)


def child(element: Element, name: str) -> Element | None:
    """The first direct child named ``name`` (any namespace), or None."""
    return next(children(element, name), None)


def descendant(element: Element, name: str) -> Element | None:
    """The first element named ``name`` (any namespace) at any depth, or None."""
    return next((e for e in element.iter() if local(e.tag) == name), None)


def text_of(element: Element | None, name: str | None = None) -> str | None:
    """Stripped text of ``element`` (or of its child ``name``); None when absent or empty."""
    target = element if name is None or element is None else child(element, name)
    return None if target is None else stripped(target.text)


def stripped(text: str | None) -> str | None:
    """An element's ``text`` as :func:`text_of` gives it: stripped, None when absent or empty."""
    return (text.strip() or None) if text else None


def is_nil(element: Element) -> bool:
    """True when the element says ``xsi:nil="true"`` (or ``"1"``)."""
    return element.get(f"{{{XSI_NS}}}nil", "").strip().lower() in ("true", "1")


def tag(name: str, value: str | int | None = None) -> str:
    """``<name>value</name>`` with the text escaped for XML (``<name/>`` without a value)."""
    if value is None:
        return f"<{name}/>"
    return f"<{name}>{escape(str(value))}</{name}>"


def envelope(body: str, namespaces: Mapping[str, str]) -> bytes:
    """A SOAP 1.1 envelope around ``body`` (already-escaped XML), UTF-8 encoded."""
    decls = "".join(f' xmlns:{prefix}="{escape(uri)}"' for prefix, uri in namespaces.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV_NS}"{decls}>'
        f"<soapenv:Header/><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault: ``faultcode``/``faultstring`` and, from AXL, ``axlcode``/``axlmessage``."""

    code: str
    message: str
    axl_code: str | None = None
    axl_message: str | None = None

    @property
    def text(self) -> str:
        """The most specific message the server gave."""
        return self.axl_message or self.message


def fault_of(root: Element) -> SoapFault | None:
    """The SOAP fault in a parsed envelope, or None when the body holds none."""
    body = child(root, "Body")
    fault = child(body, "Fault") if body is not None else None
    if fault is None:
        return None
    error = descendant(fault, "axlError")
    return SoapFault(
        code=text_of(fault, "faultcode") or "",
        message=text_of(fault, "faultstring") or "(no faultstring)",
        axl_code=text_of(error, "axlcode"),
        axl_message=text_of(error, "axlmessage"),
    )


class SoapFaultError(SourceError):
    """The server answered a SOAP fault; ``fault`` says which."""

    def __init__(self, service: str, operation: str, fault: SoapFault) -> None:
        code = f" (axlcode {fault.axl_code})" if fault.axl_code else ""
        super().__init__(f"{service} {operation} failed: {fault.text}{code}")
        self.fault = fault
        self.operation = operation


@dataclass(frozen=True)
class Exchange:
    """One SOAP answer as received: what was asked, the raw body, and any fault in it."""

    service: str
    operation: str
    status: int
    body: bytes
    fault: SoapFault | None
    request: Mapping[str, object]


#: Decides whether a fault is worth waiting out: seconds to wait, or None to raise it.
FaultWait = Callable[[SoapFault], float | None]


def _no_fault_wait(fault: SoapFault) -> float | None:
    return None


class SoapClient:
    """POSTs SOAP envelopes to one endpoint and returns the parsed answers.

    Every HTTP attempt counts in ``requests`` and first calls ``before_request``
    (a rate limiter's ``acquire``). Retries are as for Graph
    (:func:`~licensewatch.retry.retrying`): connection errors,
    timeouts, 429 and 5xx without a SOAP fault wait ``Retry-After`` when given,
    else an exponential backoff with jitter; faults that ``fault_wait`` deems
    transient are waited out on the same budget. Every SOAP answer (fault or
    not) is passed to ``on_exchange`` so that a pull can be saved and replayed.
    """

    def __init__(
        self,
        service: str,
        url: str,
        *,
        auth: tuple[str, str],
        verify: bool | str = True,
        timeout_s: float = 120.0,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        before_request: Callable[[], None] | None = None,
        fault_wait: FaultWait = _no_fault_wait,
        on_exchange: Callable[[Exchange], None] | None = None,
        hint: str = "",
    ) -> None:
        self.service = service
        self.url = url
        self.requests = 0
        self.waits: list[float] = []
        self.policy = policy or RetryPolicy()
        self._auth = auth
        self._verify = verify
        self._timeout = timeout_s
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._random = random
        self._before = before_request
        self._fault_wait = fault_wait
        self._on_exchange = on_exchange
        self._hint = hint

    def call(
        self,
        operation: str,
        body: bytes,
        *,
        soap_action: str,
        request: Mapping[str, object] | None = None,
    ) -> Element:
        """POST ``body``; return the parsed envelope or raise :class:`SoapFaultError` on a fault."""
        return retrying(
            partial(self._send, body, soap_action),
            partial(self._classify, operation, request or {}),
            policy=self.policy,
            give_up=partial(self._spent, operation),
            on_wait=partial(self._log_wait, operation),
            catch=(requests.RequestException,),
            sleep=self._sleep,
            random=self._random,
            clock=lambda: datetime.now(UTC),
        )

    def _send(self, body: bytes, soap_action: str) -> requests.Response:
        """One HTTP attempt (after the rate limiter, if any)."""
        if self._before is not None:
            self._before()
        self.requests += 1
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"'}
        return self._session.post(
            self.url, data=body, headers=headers, auth=self._auth,
            verify=self._verify, timeout=self._timeout,
        )  # fmt: skip

    def _classify(
        self, operation: str, request: Mapping[str, object], answer: requests.Response | Exception
    ) -> Outcome[Element]:
        """Sort one attempt: the envelope, a retry (transient failure or fault) or an error."""
        if isinstance(answer, Exception):
            return self._failed(answer)
        status = answer.status_code
        if status in (401, 403):
            return Fatal(SourceAuthError(
                f"{self.service} at {self.url} refused user {self._auth[0]!r} (HTTP {status})",
                hint=self._hint or "check the username, the password and the user's roles",
            ))  # fmt: skip
        # Faults come as HTTP 500 with an envelope; a 5xx or 429 without one is transient.
        root = _envelope_or_none(answer, f"{self.service} {operation} response")
        if root is None and (status == 429 or status >= 500):
            return Retry(f"HTTP {status}", retry_after=answer.headers.get("Retry-After"))
        if root is None or (status >= 400 and fault_of(root) is None):
            return Fatal(SourceError(
                f"{self.service} answered HTTP {status} to {operation} without a SOAP "
                f"envelope or fault at {self.url}",
                hint="check the URL in the config",
            ))  # fmt: skip
        fault = fault_of(root)
        if self._on_exchange is not None:
            self._on_exchange(
                Exchange(self.service, operation, status, answer.content, fault, dict(request))
            )
        if fault is None:
            return Done(root)
        wait = self._fault_wait(fault)
        if wait is None:
            return Fatal(SoapFaultError(self.service, operation, fault))
        return Retry(f"fault {fault.code}: {fault.text}", wait=wait)

    def _failed(self, exc: Exception) -> Retry | Fatal:
        """A request that raised: TLS and other request errors are fatal, the rest transient."""
        if isinstance(exc, requests.exceptions.SSLError):
            return Fatal(SourceError(
                f"{self.service} TLS check of {self.url} failed: {exc}",
                hint="set ca_bundle to the CA that signed the CUCM certificate",
            ))  # fmt: skip
        if isinstance(
            exc,
            (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
        ):
            return Retry(type(exc).__name__)
        return Fatal(SourceError(f"{self.service} request to {self.url} failed: {exc}"))

    def _spent(self, operation: str, retry: Retry, retries: int) -> SourceUnavailable:
        return SourceUnavailable(
            f"{self.service} {operation} kept failing ({retry.reason}) after {retries} "
            f"retr{'y' if retries == 1 else 'ies'}; stopped without a complete pull",
            hint="check that the CUCM node is up and reachable, then run again",
        )

    def _log_wait(self, operation: str, waited: Waited) -> None:
        log.warning(
            "%s %s: %s; retry %d in %.1f s",
            self.service, operation, waited.retry.reason, waited.number, waited.seconds,
        )  # fmt: skip
        self.waits.append(waited.seconds)


def _envelope_or_none(response: requests.Response, what: str) -> Element | None:
    """The response's SOAP envelope, or None when the body is not one.

    A success must parse (its errors propagate); an error status may carry an
    HTML page, which is not worth a parse error. Unsafe XML is always refused.
    """
    if response.status_code < 400:
        root = parse_xml(response.content, what=what)
    else:
        try:
            root = parse_xml(response.content, what=what)
        except UnsafeXmlError:
            raise
        except SourceError:
            return None
    return root if local(root.tag) == "Envelope" else None
