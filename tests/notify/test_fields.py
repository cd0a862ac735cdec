"""``notify.rows.Fields``: what a template reads of it is what it reads of a plain dict."""

from __future__ import annotations

import pickle

import jinja2
import pandas as pd
import pytest

from licensewatch.notify.rows import Fields, people, prepare, rate_basis
from tests.notify.sample import sample

TEMPLATE = (
    "{{ p.name }}|{{ p['name'] }}|{{ p.missing is defined }}|{{ p.items is defined }}|"
    "{% for l in p.licences %}{{ l.cost }};{% endfor %}|{{ p.get('name') }}|{{ p.none }}"
)


@pytest.mark.parametrize("undefined", [jinja2.Undefined, jinja2.StrictUndefined])
def test_a_template_reads_fields_as_it_reads_a_dict(undefined: type[jinja2.Undefined]) -> None:
    env = jinja2.Environment(undefined=undefined, autoescape=True)
    template = env.from_string(TEMPLATE.replace("|{{ p.none }}", "") if undefined is
                               jinja2.StrictUndefined else TEMPLATE)  # fmt: skip
    plain = {"name": "Zoé <b>", "licences": [{"cost": "USD 1"}, {"cost": "USD 2"}], "none": None}
    fields = Fields({**plain, "licences": [Fields(x) for x in plain["licences"]]})
    assert template.render(p=fields) == template.render(p=plain)


def test_an_attribute_is_a_key_and_a_missing_one_is_an_attribute_error() -> None:
    fields = Fields({"name": "x", "items": "shadowed"})
    assert fields.name == "x"
    assert not hasattr(fields, "missing")
    assert callable(fields.items)  # a dict method first, as on a plain dict
    assert pickle.loads(pickle.dumps(fields)) == fields
    assert isinstance(pickle.loads(pickle.dumps(fields)), Fields)


def test_a_notice_s_people_licences_phones_and_rates_are_fields() -> None:
    costed, inventory = sample()
    listed = people(prepare(costed, inventory), "en", 1000).shown
    entries = [*listed, *(x for p in listed for x in (*p["licences"], *p["phones"]))]
    assert listed and any(p["phones"] for p in listed) and any(p["licences"] for p in listed)
    assert all(type(entry) is Fields for entry in entries)
    rates = pd.DataFrame(
        {
            "item": ["E3"],
            "description": ["Microsoft 365 E3"],
            "annual_rate_cents": [18960],
            "effective_from": [pd.Timestamp("2019-01-01", tz="UTC")],
            "effective_to": [pd.NaT],
        }
    )
    assert all(type(r) is Fields for r in rate_basis(rates, ["E3"], "en"))
