"""Options of file and database sources: checked keys, encodings, delimiters, renamed columns.

Every source kind validates its own ``[sources.<feed>]`` table: unknown keys
are rejected with the list of valid ones. A ``columns`` sub-table renames the
organization's headers ("Index Number") to canonical column names
("employee_id").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.options import reject_unknown
from licensewatch.sources.tabular.dates import ISO, date_format_option
from licensewatch.sources.tabular.text import AUTO, check_delimiter, check_encoding


def check_options(
    settings: SourceSettings,
    allowed: Sequence[str],
    defaults: Mapping[str, str],
    other: Sequence[str] = (),
) -> dict[str, str]:
    """Reject unknown option keys and return the string options with their defaults filled in.

    ``allowed`` lists every string option of the kind (``kind`` itself
    excepted); an option in ``defaults`` is optional (its default is taken as
    is), any other is required.
    ``other`` lists further valid keys whose values the caller checks itself
    (tables such as ``columns``, numbers). ``encoding``, ``delimiter`` and
    ``date_format`` are checked here when allowed.
    """
    where = f"[sources.{settings.feed}]"
    reject_unknown(
        settings.options,
        (*allowed, *other),
        where,
        listed=("kind", *allowed, *other),
        kind=settings.kind,
        hint=f"correct or remove the key in {where}",
    )
    out: dict[str, str] = {}
    for key in allowed:
        if key not in settings.options and key in defaults:
            out[key] = defaults[key]
            continue
        value = settings.options.get(key)
        if value is None:
            raise ConfigError(
                f"{where} (kind {settings.kind!r}) needs {key!r}",
                hint=f'add {key} = "..." to {where}',
            )
        # A tab delimiter is all whitespace, so it is the one value not stripped.
        if not isinstance(value, str) or not (value.strip() or value == "\t"):
            raise ConfigError(f"{where} {key} must be a non-empty string, not {value!r}")
        out[key] = value if value == "\t" else value.strip()
    if "encoding" in out:
        out["encoding"] = check_encoding(out["encoding"], where)
    if "delimiter" in out:
        out["delimiter"] = check_delimiter(out["delimiter"], where)
    if "date_format" in out:
        date_format_option(out["date_format"], where)
    return out


def header_key(name: str) -> str:
    """A header cell as compared with column names: stripped (byte-order mark too), case-folded."""
    return name.strip().lstrip("\ufeff").strip().casefold()


@dataclass(frozen=True)
class TableOptions:
    """How a source's table is read: encoding, delimiter, date format and renamed columns.

    ``date_format`` is "iso", "day-first" or "month-first" (``licensewatch.sources.tabular.dates``).
    ``columns`` maps the organization's header names (as configured; compared
    with the file's headers case-folded) to canonical column names; ``where``
    is the config table these came from ("[sources.separations]"), named in
    hints; ``None`` for reference files, which have no options.
    """

    encoding: str = AUTO
    delimiter: str = AUTO
    date_format: str = ISO
    columns: Mapping[str, str] = field(default_factory=dict)
    where: str | None = None


def table_options(
    settings: SourceSettings, options: Mapping[str, str], canonical: Sequence[str]
) -> TableOptions:
    """The :class:`TableOptions` of a source: its checked options plus its ``columns`` table.

    ``canonical`` lists the column names a header may be renamed to.
    """
    where = f"[sources.{settings.feed}]"
    table = settings.options.get("columns", {})
    example = f'[sources.{settings.feed}.columns] then "Index Number" = "employee_id"'
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} columns must be a table", hint=f"write it as {example}")
    columns: dict[str, str] = {}
    seen: set[str] = set()
    for header, name in table.items():
        if not isinstance(name, str) or name.strip().casefold() not in canonical:
            raise ConfigError(
                f"{where} columns maps {header!r} to {name!r}, which is not a column of "
                f"{settings.feed}; valid names are: {', '.join(canonical)}",
                hint=f"write it as {example}",
            )
        target = name.strip().casefold()
        if target in columns.values():
            raise ConfigError(f"{where} columns maps two headers to {target!r}")
        if header_key(str(header)) in seen:
            raise ConfigError(f"{where} columns names the header {header!r} twice")
        seen.add(header_key(str(header)))
        columns[str(header).strip()] = target
    date_format = options.get("date_format", "iso")
    return TableOptions(
        encoding=options.get("encoding", AUTO),
        delimiter=options.get("delimiter", AUTO),
        date_format=date_format_option(date_format, where).order,
        columns=columns,
        where=where,
    )


def shown_path(value: str) -> str:
    """A path as the config writes it, quoted as in TOML (``"exports/hr.csv"``)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def existing_path(
    where: str, key: str, value: str, path: Path, *, folder: bool = False, expected: str = ""
) -> Path:
    """``path`` (what ``where``'s ``key = value`` names) if it exists as a file (or ``folder``).

    Else ``InputError`` naming the key: ``[sources.separations] path =
    "exports/separations.csv": no such file (/srv/…/separations.csv); expected …``.
    """
    what = "folder" if folder else "file"
    if path.is_dir() if folder else path.is_file():
        return path
    if path.exists():
        problem = "is a file, not a folder" if folder else "is a folder, not a file"
    else:
        problem = f"no such {what}"
    shown = f" ({path})" if str(path) != value else ""
    raise InputError.single(
        f"{where} {key} = {shown_path(value)}",
        f"{problem}{shown}" + (f"; {expected}" if expected else ""),
        hint=f"correct {key} in {where}, or put the {what} there",
    )


def source_path(
    settings: SourceSettings, key: str = "path", *, folder: bool = False, expected: str = ""
) -> Path:
    """The source option ``key`` as an existing path (see :func:`existing_path`)."""
    return existing_path(
        f"[sources.{settings.feed}]",
        key,
        str(settings.options.get(key, "")),
        settings.path(key),
        folder=folder,
        expected=expected,
    )
