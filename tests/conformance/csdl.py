"""Microsoft Graph's CSDL (OData EDMX XML) read into types and actions; JSON checked against it.

Only what the conformance tests need: entity and complex types with their base
types, properties and navigation properties; enum members; bound actions
with their parameters. Type names are resolved to full names
(``graph.user`` → ``microsoft.graph.user``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_COLLECTION = re.compile(r"Collection\((.+)\)")


@dataclass(frozen=True)
class Prop:
    """A property, navigation property or action parameter: its type and nullability."""

    name: str
    type: str
    nullable: bool = True


@dataclass
class StructuredType:
    """An ``EntityType`` or ``ComplexType``: own properties (navigation ones included)."""

    name: str
    base: str | None
    properties: dict[str, Prop] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """An ``Action``: the type it is bound to and its other parameters."""

    name: str
    bound_to: str | None
    parameters: dict[str, Prop]


class Csdl:
    """The types and actions of one CSDL document."""

    def __init__(self, root: ET.Element) -> None:
        self.types: dict[str, StructuredType] = {}
        self.enums: dict[str, set[str]] = {}
        self.actions: dict[str, list[Action]] = {}
        schemas = list(root.iter(f"{EDM}Schema"))
        self._aliases = {s.get("Alias", ""): s.get("Namespace", "") for s in schemas}
        self._aliases.pop("", None)
        for schema in schemas:
            namespace = schema.get("Namespace", "")
            for element in schema:
                kind = element.tag.removeprefix(EDM)
                full = f"{namespace}.{element.get('Name')}"
                if kind in ("EntityType", "ComplexType"):
                    base = element.get("BaseType")
                    t = StructuredType(full, self.resolve(base) if base else None)
                    for p in element:
                        if p.tag in (f"{EDM}Property", f"{EDM}NavigationProperty"):
                            t.properties[p.get("Name", "")] = self._prop(p)
                    self.types[full] = t
                elif kind == "EnumType":
                    self.enums[full] = {m.get("Name", "") for m in element.iter(f"{EDM}Member")}
                elif kind == "Action":
                    params = [self._prop(p) for p in element.iter(f"{EDM}Parameter")]
                    bound = element.get("IsBound") == "true"
                    action = Action(
                        full,
                        params[0].type if bound else None,
                        {p.name: p for p in (params[1:] if bound else params)},
                    )
                    self.actions.setdefault(element.get("Name", ""), []).append(action)

    def _prop(self, element: ET.Element) -> Prop:
        return Prop(
            element.get("Name", ""),
            self.resolve(element.get("Type", "")),
            element.get("Nullable", "true") != "false",
        )

    def resolve(self, name: str) -> str:
        """A type name with its namespace alias expanded (``Collection(…)`` kept around it)."""
        inner = _COLLECTION.fullmatch(name)
        if inner:
            return f"Collection({self.resolve(inner.group(1))})"
        prefix, _, local = name.rpartition(".")
        return f"{self._aliases.get(prefix, prefix)}.{local}"

    def property(self, type_name: str, name: str) -> Prop | None:
        """Property ``name`` of ``type_name`` or of one of its base types, or None."""
        t: StructuredType | None = self.types[type_name]
        while t is not None:
            if name in t.properties:
                return t.properties[name]
            t = self.types[t.base] if t.base else None
        return None

    def derives(self, type_name: str, base: str) -> bool:
        """Whether ``type_name`` is ``base`` or derives from it."""
        t: StructuredType | None = self.types.get(type_name)
        while t is not None:
            if t.name == base:
                return True
            t = self.types[t.base] if t.base else None
        return False

    def action(self, name: str, bound_to: str) -> Action:
        """The action ``name`` bound to ``bound_to`` (a full type name)."""
        (found,) = [a for a in self.actions.get(name, []) if a.bound_to == bound_to]
        return found


@cache
def load(path: Path) -> Csdl:
    """The CSDL at ``path`` (parsed once a session: 3.4 MB)."""
    return Csdl(ET.parse(path).getroot())


def is_annotation(key: str) -> bool:
    """OData control information (``@odata.context``, ``x@odata.nextLink``), not a property."""
    return "@odata." in key


def check(csdl: Csdl, type_name: str, value: Any, path: str, nullable: bool = True) -> list[str]:
    """Where ``value`` (decoded JSON) does not fit ``type_name``; [] when it does.

    Every object key must be a declared property of the type (or of a base type)
    or an OData annotation; ``@odata.type`` must name the type or a derived one.
    Enum members are compared ignoring case (Graph's documented bodies write
    ``"HTML"`` for ``bodyType`` member ``html``). An empty string is accepted as
    a DateTimeOffset: Graph sends ``""`` for "never" in ``signInActivity``.
    """
    if value is None:
        return [] if nullable else [f"{path}: null, but {type_name} is not nullable"]
    inner = _COLLECTION.fullmatch(type_name)
    if inner:
        if not isinstance(value, list):
            return [f"{path}: expected a JSON array of {inner.group(1)}"]
        return [e for n, v in enumerate(value) for e in check(csdl, inner.group(1), v,
                f"{path}[{n}]", nullable=False)]  # fmt: skip
    if type_name in csdl.types:
        return _check_object(csdl, type_name, value, path)
    if type_name in csdl.enums:
        members = {m.casefold() for m in csdl.enums[type_name]}
        ok = isinstance(value, str) and value.casefold() in members
        return [] if ok else [f"{path}: {value!r} is not a member of {type_name}"]
    return [] if _primitive_ok(type_name, value) else [f"{path}: {value!r} is no {type_name}"]


def _check_object(csdl: Csdl, type_name: str, value: Any, path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{path}: expected a JSON object ({type_name})"]
    declared = value.get("@odata.type")
    if declared is not None:
        actual = csdl.resolve(str(declared).removeprefix("#"))
        if not csdl.derives(actual, type_name):
            return [f"{path}: @odata.type {declared!r} is not a {type_name}"]
        type_name = actual
    errors = []
    for key, item in value.items():
        if is_annotation(key):
            continue
        prop = csdl.property(type_name, key)
        if prop is None:
            errors.append(f"{path}.{key}: no such property on {type_name}")
        else:
            errors += check(csdl, prop.type, item, f"{path}.{key}", prop.nullable)
    return errors


def _primitive_ok(type_name: str, value: Any) -> bool:
    if type_name == "Edm.String":
        return isinstance(value, str)
    if type_name == "Edm.Boolean":
        return isinstance(value, bool)
    if type_name in ("Edm.Int16", "Edm.Int32", "Edm.Int64"):
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Edm.Guid":
        return isinstance(value, str) and _GUID.fullmatch(value) is not None
    if type_name == "Edm.DateTimeOffset":
        if not isinstance(value, str):
            return False
        try:
            return value == "" or datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    if type_name == "Edm.Binary":
        try:
            return isinstance(value, str) and base64.b64decode(value, validate=True) is not None
        except (binascii.Error, ValueError):
            return False
    return True  # other Edm types are not used by licensewatch


def check_action(csdl: Csdl, name: str, bound_to: str, body: Mapping[str, Any]) -> list[str]:
    """Where a POSTed action body does not fit the action's parameters; [] when it does.

    Parameter names are compared ignoring case: the CSDL names sendMail's
    ``Message`` and ``SaveToSentItems``, while Microsoft's documented request
    body (and every client) writes ``message`` and ``saveToSentItems``.
    Parameters that are not nullable must be present.
    """
    action = csdl.action(name, bound_to)
    params = {p.casefold(): prop for p, prop in action.parameters.items()}
    errors = []
    for key, value in body.items():
        prop = params.get(key.casefold())
        if prop is None:
            errors.append(f"{name}.{key}: no such parameter of {action.name}")
        else:
            errors += check(csdl, prop.type, value, f"{name}.{key}", prop.nullable)
    sent = {k.casefold() for k in body}
    errors += [
        f"{name}: required parameter {p.name} is missing"
        for key, p in params.items()
        if not p.nullable and key not in sent
    ]
    return errors
