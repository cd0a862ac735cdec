"""Text parts encoded by ``notify.quoted_printable`` are the standard library's, byte for byte."""

from __future__ import annotations

import email.policy
from email import contentmanager, quoprimime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licensewatch.notify.mime import POLICY
from licensewatch.notify.quoted_printable import CONTENT_MANAGER, body_encode, encode_text

#: What a body is made of: quoting's edge cases (=, blanks, line ends) among any text.
_EDGES = st.sampled_from(
    ["=", " ", "\t", "\r", "\n", "\r\n", "=\n", " \n", "\t\r\n", "\x0c", "\x1c"]
)
_LATIN = st.text(st.characters(max_codepoint=255), max_size=40)
_BODY = st.lists(st.one_of(_LATIN, _EDGES), max_size=30).map("".join)
_ANY = st.lists(
    st.one_of(st.text(max_size=40), _EDGES, st.sampled_from(["é", "€", "💡", "a" * 90])),
    max_size=30,
).map("".join)
#: The standard library's policy with its own content manager: what POLICY was.
STANDARD = POLICY.clone(content_manager=contentmanager.raw_data_manager)


@settings(max_examples=500, deadline=None)
@given(_BODY, st.integers(4, 100), st.sampled_from(["\n", "\r\n"]))
def test_body_encode_is_quoprimime_s(body: str, width: int, eol: str) -> None:
    assert body_encode(body, width, eol) == quoprimime.body_encode(body, width, eol)


def test_lines_that_fill_the_width_exactly_break_where_quoprimime_does() -> None:
    for n in range(60, 90):
        for tail in ("", "=", "==", " ", "\t", "é", "= ", "x="):
            line = "a" * n + tail
            for text in (line, line + "\n", line + "\r\n" + line):
                assert body_encode(text.encode().decode("latin-1"), 76) == quoprimime.body_encode(
                    text.encode().decode("latin-1"), 76
                )


def test_a_width_below_four_is_refused_as_there() -> None:
    with pytest.raises(ValueError, match="maxlinelen must be at least 4"):
        body_encode("x", 3)
    with pytest.raises(ValueError, match="maxlinelen must be at least 4"):
        quoprimime.body_encode("x", 3)


@settings(max_examples=500, deadline=None)
@given(
    _ANY,
    st.sampled_from([None, None, "quoted-printable", "base64", "7bit", "8bit"]),
    st.sampled_from([POLICY, email.policy.default, email.policy.SMTPUTF8]),
)
def test_encode_text_is_the_content_manager_s(
    text: str, cte: str | None, policy: email.policy.EmailPolicy
) -> None:
    def outcome(encode: object) -> object:
        try:
            return encode(text, "utf-8", cte, policy)  # type: ignore[operator]
        except (UnicodeError, ValueError) as exc:
            return type(exc), str(exc)

    assert outcome(encode_text) == outcome(contentmanager._encode_text)  # type: ignore[attr-defined]


def _parts(policy: email.policy.EmailPolicy, body: str, csv: str) -> list[object]:
    msg = EmailMessage(policy=policy)
    msg["Subject"] = "Licences à retirer"
    msg.set_content(body)
    msg.add_alternative(f"<p>{body}</p>", subtype="html")
    msg.add_attachment(csv, subtype="csv", filename="licensewatch_finance.csv")
    msg.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="a.zip")
    return [
        (list(part.items()), None if part.is_multipart() else part.get_payload())
        for part in msg.walk()
    ]


@settings(max_examples=200, deadline=None)
@given(_ANY, _ANY)
def test_a_notice_s_parts_are_what_the_standard_library_writes(body: str, csv: str) -> None:
    assert _parts(POLICY, body, csv) == _parts(STANDARD, body, csv)


def test_a_large_csv_attachment_is_the_standard_library_s() -> None:
    rows = [
        f"user{i}@contoso.org;Département {i % 7};Microsoft 365 E3 (no Teams) via group;"
        f"Licensing - all staff;189,60;{'=' * (i % 3)} ;"
        for i in range(3000)
    ]
    csv = "\ufeffresource_id;department;product;annual_cost_usd;x\r\n" + "\r\n".join(rows)
    ours, theirs = _parts(POLICY, "Bonjour", csv), _parts(STANDARD, "Bonjour", csv)
    assert ours == theirs
    [csv_headers] = [h for h, _ in ours if ("Content-Type", 'text/csv; charset="utf-8"') in h]  # type: ignore[misc]
    assert ("Content-Transfer-Encoding", "quoted-printable") in csv_headers


def test_every_message_is_composed_with_it() -> None:
    assert POLICY.content_manager is CONTENT_MANAGER
    assert EmailMessage(policy=POLICY).policy.content_manager is CONTENT_MANAGER
