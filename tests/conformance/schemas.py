"""Where the vendors' schemas are, and loaders for them (XSD with lxml, Graph's CSDL).

The schemas are data kept beside the repository (``<repo>/../shared/schemas``,
see its README), not copied into it; ``LICENSEWATCH_SCHEMAS_DIR`` points
elsewhere. When the folder is absent the conformance tests are skipped, unless
``LICENSEWATCH_REQUIRE_SCHEMAS=1`` (CI), which makes its absence a failure. A
folder that exists but lacks one of the files is always a failure.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
DIR_ENV = "LICENSEWATCH_SCHEMAS_DIR"
REQUIRE_ENV = "LICENSEWATCH_REQUIRE_SCHEMAS"
#: The AXL versions whose schemas are kept; the client sends the configured one.
AXL_VERSIONS = ("12.5", "15.0")
FILES = (
    *(f"axl-{v}/{name}" for v in AXL_VERSIONS for name in ("AXLSoap.xsd", "AXLEnums.xsd")),
    "risport70/RISService70.wsdl",
    "graph-v1.0/v1.0-Prod.csdl",
)
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

#: Local files only: no network, no entity expansion (the schemas need neither).
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)


def schemas_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The schemas folder; skips the test when absent, fails when absent but required."""
    env = os.environ if environ is None else environ
    folder = Path(env.get(DIR_ENV) or ROOT.parent / "shared" / "schemas")
    if not folder.is_dir():
        reason = f"vendor schemas not found at {folder} (set {DIR_ENV} to their folder)"
        if env.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}; required because {REQUIRE_ENV}=1")
        pytest.skip(reason)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        pytest.fail(f"the vendor schemas folder {folder} lacks {', '.join(missing)}")
    return folder


def parse(path: Path) -> etree._ElementTree:
    """A local XML file, parsed without network access (its base URL kept for imports)."""
    return etree.parse(str(path), _PARSER)


@cache
def axl_schema(folder: Path, version: str) -> etree.XMLSchema:
    """``AXLSoap.xsd`` of ``version`` (it imports ``AXLEnums.xsd`` beside it)."""
    return etree.XMLSchema(parse(folder / f"axl-{version}" / "AXLSoap.xsd"))


@cache
def risport_schema(folder: Path) -> etree.XMLSchema:
    """The schema embedded in ``RISService70.wsdl`` (its ``types`` section), standalone.

    Its ``type="xsd:…"`` references use prefixes declared on the WSDL root, so the
    copy carries the root's namespace declarations too.
    """
    wsdl = parse(folder / "risport70" / "RISService70.wsdl").getroot()
    embedded = wsdl.find(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
    assert embedded is not None, "RISService70.wsdl has no types/schema"
    nsmap = {**wsdl.nsmap, **embedded.nsmap}
    schema = etree.Element(embedded.tag, attrib=dict(embedded.attrib), nsmap=nsmap)
    schema.extend(copy.deepcopy(child) for child in embedded)
    return etree.XMLSchema(schema)


def body_element(envelope: bytes) -> etree._Element:
    """The one element inside a SOAP 1.1 envelope's Body (comments aside)."""
    root = etree.fromstring(envelope, _PARSER)
    assert root.tag == f"{{{SOAPENV}}}Envelope", root.tag
    bodies = root.findall(f"{{{SOAPENV}}}Body")
    assert len(bodies) == 1, "an envelope has exactly one Body"
    elements = [e for e in bodies[0] if isinstance(e.tag, str)]
    assert len(elements) == 1, f"the Body holds {len(elements)} elements, not one"
    return elements[0]


def schema_errors(schema: etree.XMLSchema, element: etree._Element) -> list[str]:
    """Why ``element`` (as a document of its own) is not valid against ``schema``; [] if it is."""
    document = etree.ElementTree(copy.deepcopy(element))
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
