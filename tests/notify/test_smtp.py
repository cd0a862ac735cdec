"""SmtpTransport against a loopback aiosmtpd server: TLS, login, refusals, drops, and its config."""

from __future__ import annotations

import base64
import email.policy
import logging
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from licensewatch import logs
from licensewatch.errors import ConfigError, DeliveryDeferred, DeliveryError, TransportUnavailable
from licensewatch.notify.compose import DepartmentNotice
from licensewatch.notify.transports import smtp as smtpmod
from licensewatch.notify.transports.smtp import SmtpOptions, SmtpTransport
from tests import smtpserver
from tests.notify.org import RESEARCH, compose
from tests.smtpserver import LoopbackSmtp

smtp_server = smtpserver.smtp_server

SENDER = "ICT Licensing <licensewatch@contoso.org>"
PASSWORD = "Tr0ub4dor&3-horse"
ENV = {"LW_SMTP_PASSWORD": PASSWORD}
LOGIN: dict[str, Any] = {"username": "lw", "password_env": "LW_SMTP_PASSWORD"}


def transport(server: LoopbackSmtp, **overrides: Any) -> SmtpTransport:
    return SmtpTransport(server.options(**overrides), sender=SENDER, environ=ENV)


def message(subject: str = "Dormant accounts", **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = SENDER
    for name, value in (headers or {"To": "fp.finance@x.org"}).items():
        msg[name] = value
    msg.set_content("Please review the attached accounts.\n")
    return msg


@pytest.fixture(scope="module")
def notices() -> list[DepartmentNotice]:
    found, _ = compose()
    assert len(found) >= 3
    return found


def attachments(msg: EmailMessage) -> list[tuple[str | None, Any]]:
    return [(part.get_filename(), part.get_content()) for part in msg.iter_attachments()]


# -- delivery -------------------------------------------------------------------------------


def test_composed_notices_arrive_whole_over_one_connection(
    smtp_server: LoopbackSmtp, notices: list[DepartmentNotice]
) -> None:
    t = transport(smtp_server)
    assert smtp_server.connections == 0  # connects on the first message only
    with t:
        for notice in notices:
            t.send(notice.message, key=notice.key)
    assert smtp_server.connections == 1
    assert smtp_server.quits == 1
    assert len(smtp_server.messages) == len(notices)
    for notice, got in zip(notices, smtp_server.messages, strict=True):
        assert got.mail_from == "licensewatch@contoso.org"
        assert got.rcpt_tos == [*notice.to, *notice.cc]
        assert got.connection == 1 and not got.tls and got.login is None
        # Exactly what DirectoryTransport writes for the notice, parsed back.
        written = email.message_from_bytes(notice.message.as_bytes(), policy=email.policy.default)
        assert isinstance(written, EmailMessage)
        for header in ("Message-ID", "Subject", "To", "Cc", "Reply-To", "X-Licensewatch-Key"):
            assert got.message[header] == written[header]
        assert got.message.get_body(("html",)) is not None
        assert attachments(got.message) == attachments(written)
        assert attachments(got.message)[0][0] is not None  # the CSV did arrive


def test_utf8_subject_and_non_latin_names_survive(smtp_server: LoopbackSmtp) -> None:
    notices, _ = compose()
    research = next(n for n in notices if n.department == RESEARCH)
    msg = research.message
    del msg["To"]
    msg["To"] = "李雷 <fp.rd@x.org>"
    msg["Cc"] = "José Ñúñez <fp.legal@x.org>, Zoë Müller <fp.finance@x.org>"
    with transport(smtp_server) as t:
        t.send(msg, key=research.key)
    got = smtp_server.messages[0]
    assert RESEARCH in got.message["Subject"] and "—" in got.message["Subject"]
    assert got.message["Subject"] == msg["Subject"]
    assert [a.display_name for a in got.message["To"].addresses] == ["李雷"]
    assert [a.display_name for a in got.message["Cc"].addresses] == ["José Ñúñez", "Zoë Müller"]
    assert got.rcpt_tos == ["fp.rd@x.org", "fp.legal@x.org", "fp.finance@x.org"]
    body = got.message.get_body(("plain",))
    assert body is not None
    assert RESEARCH in body.get_content()


def test_envelope_has_to_cc_and_bcc_and_the_data_has_no_bcc(smtp_server: LoopbackSmtp) -> None:
    msg = message(
        To="Finance FP <fp.finance@x.org>, fp2@x.org",
        Cc="assistant@x.org, FP.Finance@x.org",
        Bcc="audit@contoso.org",
    )
    with transport(smtp_server) as t:
        t.send(msg, key="k-bcc")
    got = smtp_server.messages[0]
    assert got.rcpt_tos == ["fp.finance@x.org", "fp2@x.org", "assistant@x.org", "audit@contoso.org"]
    assert got.message["Bcc"] is None
    assert b"audit@contoso.org" not in got.data
    assert msg["Bcc"] == "audit@contoso.org"  # the caller's message is left as it was


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_with_the_private_ca(tls: str) -> None:
    with LoopbackSmtp(tls=tls) as server, transport(server) as t:
        assert server.ca_file is not None and server.ca_file.is_file()
        t.send(message(), key="k-tls")
        t.send(message(), key="k-tls-2")
    assert [m.tls for m in server.messages] == [True, True]
    assert server.connections == 1


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_certificate_of_an_unknown_ca_is_refused(tls: str) -> None:
    with LoopbackSmtp(tls=tls) as server:
        t = transport(server, ca_file=None)  # the system's CAs do not know the test CA
        with pytest.raises(TransportUnavailable, match=r"TLS with SMTP 127\.0\.0\.1:\d+ failed"):
            t.send(message(), key="k")
    assert server.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit", "none"])
def test_login(tls: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="licensewatch")
    with LoopbackSmtp(tls=tls, auth={"lw": PASSWORD}) as server, transport(server, **LOGIN) as t:
        t.send(message(), key="k-login")
    assert [(m.login, m.tls) for m in server.messages] == [("lw", tls != "none")]
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("tls", ["starttls", "none"])
def test_wrong_password_is_transport_unavailable_and_never_shown(
    tls: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="licensewatch")
    server = LoopbackSmtp(tls=tls, auth={"lw": "another password"})
    with server, pytest.raises(TransportUnavailable) as caught:
        transport(server, **LOGIN).send(message(), key="k")
    err = caught.value
    assert f"SMTP 127.0.0.1:{server.port} refused the login of lw: 535" in err.message
    assert err.hint is not None and "$LW_SMTP_PASSWORD" in err.hint
    texts = [err.one_line(), repr(err), str(err.__cause__), repr(err.__cause__), caplog.text]
    assert not [text for text in texts if PASSWORD in text]
    assert server.messages == []


UTF8_PASSWORD = "pässwörd-ü€"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("tls", ["starttls", "none"])
def test_login_with_a_utf8_password(tls: str, mechanism: str) -> None:
    # smtplib alone raises UnicodeEncodeError: it encodes the AUTH response as ASCII.
    server = LoopbackSmtp(tls=tls, auth={"lw": UTF8_PASSWORD}, auth_mechanisms=[mechanism])
    env = {"LW_SMTP_PASSWORD": UTF8_PASSWORD}
    with server, SmtpTransport(server.options(**LOGIN), sender=SENDER, environ=env) as t:
        t.send(message(), key="k-utf8")
    assert [m.login for m in server.messages] == ["lw"]


def test_cram_md5_is_keyed_with_the_utf8_password() -> None:
    import hmac

    client = smtpmod.SmtpClient()
    client.user, client.password = "lw", UTF8_PASSWORD
    challenge = b"<1896.697170952@relay.contoso.org>"
    expected = hmac.HMAC(UTF8_PASSWORD.encode("utf-8"), challenge, "md5").hexdigest()
    assert client.auth_cram_md5(challenge) == f"lw {expected}"
    assert client.auth_cram_md5() is None


def test_a_password_that_is_not_utf8_is_a_config_error() -> None:
    # os.environ holds undecodable bytes as lone surrogates.
    with pytest.raises(ConfigError, match=r"password in \$LW_SMTP_PASSWORD is not valid UTF-8"):
        SmtpTransport(
            SmtpOptions(host="relay.contoso.org", **LOGIN),
            sender=SENDER,
            environ={"LW_SMTP_PASSWORD": "p\udce4ss-word"},
        )


def test_a_malformed_auth_challenge_is_transport_unavailable() -> None:
    # A wrong password makes smtplib go on from PLAIN to LOGIN, whose password challenge
    # is not base64: smtplib raises binascii.Error, which is no OSError.
    server = LoopbackSmtp(auth={"lw": "another password"}, bad_login_challenge=True)
    with server, pytest.raises(TransportUnavailable, match="failed while connecting"):
        transport(server, **LOGIN).send(message(), key="k")
    assert server.messages == []


@pytest.mark.parametrize("password", [PASSWORD, UTF8_PASSWORD])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_535_echoing_the_auth_argument_shows_the_password_in_no_form(
    mechanism: str,
    password: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs.forget_secrets()
    caplog.set_level(logging.DEBUG, logger="licensewatch")
    env = {"LW_SMTP_PASSWORD": password}
    server = LoopbackSmtp(auth={"lw": "other"}, echo_auth=True, auth_mechanisms=[mechanism])
    with server, pytest.raises(TransportUnavailable) as caught:
        SmtpTransport(server.options(**LOGIN), sender=SENDER, environ=env).send(message(), key="k")
    err = caught.value
    # The relay did echo it: the cause carries the base64 of what was sent.
    sent = b"\0lw\0" + password.encode() if mechanism == "PLAIN" else password.encode()
    echoed = base64.b64encode(sent).decode()
    assert echoed in str(err.__cause__)
    assert "refused the login of lw: 535 5.7.8 Authentication failed for ***" in err.message
    texts = [err.one_line(), repr(err), caplog.text]
    assert not [t for t in texts for form in (echoed, password) if form in t]


# -- EHLO name ------------------------------------------------------------------------------


def test_ehlo_gives_the_configured_local_hostname(smtp_server: LoopbackSmtp) -> None:
    with transport(smtp_server, local_hostname="batch01.contoso.org") as t:
        t.send(message(), key="k")
    assert smtp_server.ehlo_names == ["batch01.contoso.org"]
    assert [m.helo for m in smtp_server.messages] == ["batch01.contoso.org"]


@pytest.mark.parametrize(
    ("fqdn", "expected"),
    [
        ("batch01.corp.contoso.org", "batch01.corp.contoso.org"),
        ("batch01", "contoso.org"),  # no dot: smtplib would say EHLO [10.x.y.z]
        ("localhost", "contoso.org"),
        ("10.1.2.3", "contoso.org"),  # an address is no name
    ],
)
def test_ehlo_defaults_to_the_fqdn_else_the_from_domain(
    smtp_server: LoopbackSmtp, monkeypatch: pytest.MonkeyPatch, fqdn: str, expected: str
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": fqdn)
    with transport(smtp_server, local_hostname=None) as t:
        t.send(message(), key="k")
    assert smtp_server.ehlo_names == [expected]


def test_ehlo_default_on_this_machine(smtp_server: LoopbackSmtp) -> None:
    fqdn = socket.getfqdn()
    expected = fqdn if "." in fqdn and not fqdn.replace(".", "").isdigit() else "contoso.org"
    with transport(smtp_server, local_hostname=None) as t:
        t.send(message(), key="k")
    assert smtp_server.ehlo_names == [expected]
    assert not expected.startswith("[")


def test_relay_that_requires_a_login_is_transport_unavailable() -> None:
    server = LoopbackSmtp(auth={"lw": PASSWORD})
    with server, pytest.raises(TransportUnavailable, match="requires a login: 530"):
        transport(server).send(message(), key="k")


# -- refusals -------------------------------------------------------------------------------


def test_one_refused_recipient_is_a_warning_and_the_message_counts_as_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with LoopbackSmtp(refuse_recipients={"gone@x.org"}) as server, transport(server) as t:
        t.send(message(To="fp@x.org, gone@x.org"), key="k-partial")
    assert [m.rcpt_tos for m in server.messages] == [["fp@x.org"]]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.name for r in warnings] == ["licensewatch.notify.transports.smtp"]
    text = warnings[0].getMessage()
    assert "refused 1 of 2 recipients of k-partial" in text
    assert "gone@x.org (550 5.1.1 <gone@x.org>: Recipient address rejected" in text


def test_all_recipients_refused_is_a_delivery_error_and_the_connection_stays() -> None:
    server = LoopbackSmtp(refuse_recipients={"gone@x.org", "left@x.org"})
    with server, transport(server) as t:
        with pytest.raises(DeliveryError) as caught:
            t.send(message(To="gone@x.org", Cc="left@x.org"), key="k-refused")
        t.send(message(), key="k-next")
    assert type(caught.value) is DeliveryError
    assert "refused every recipient of k-refused: gone@x.org (550 5.1.1" in caught.value.message
    assert "left@x.org (550 5.1.1" in caught.value.message
    assert [m.rcpt_tos for m in server.messages] == [["fp.finance@x.org"]]
    assert server.connections == 1


@pytest.mark.parametrize(
    "reply", ["554 5.6.0 Message rejected by policy", "451 4.3.0 Temporary local problem"]
)
def test_data_refused_is_a_delivery_error_and_the_next_message_goes_through(
    reply: str, notices: list[DepartmentNotice]
) -> None:
    rejected = notices[1]

    def fail(msg: EmailMessage) -> bool:
        return bool(msg["X-Licensewatch-Key"] == rejected.key)

    errors = []
    server = LoopbackSmtp(fail_data_for=fail, fail_data_reply=reply)
    with server, transport(server) as t:
        for notice in notices:
            try:
                t.send(notice.message, key=notice.key)
            except DeliveryError as exc:
                errors.append(exc)
    # A 4xx is transient (retried within the run), a 5xx is not.
    assert [type(e) for e in errors] == [DeliveryDeferred if reply[0] == "4" else DeliveryError]
    assert errors[0].message == f"SMTP 127.0.0.1:{server.port} rejected {rejected.key}: {reply}"
    sent = [m.message["X-Licensewatch-Key"] for m in server.messages]
    assert sent == [n.key for n in notices if n is not rejected]
    assert server.connections == 1


def test_421_after_the_data_is_not_retried(notices: list[DepartmentNotice]) -> None:
    seen: list[str] = []

    def first_time_only(msg: EmailMessage) -> bool:
        seen.append(msg["X-Licensewatch-Key"])
        return len(seen) == 2

    first, second = notices[:2]
    server = LoopbackSmtp(fail_data_for=first_time_only, fail_data_reply="421 4.3.2 Shutting down")
    with server, transport(server) as t:
        t.send(first.message, key=first.key)
        # The relay may have queued it before failing: resending could duplicate it.
        with pytest.raises(
            TransportUnavailable, match=f"dropped the connection while sending {second.key}: 421"
        ):
            t.send(second.message, key=second.key)
    assert seen == [first.key, second.key]
    assert server.connections == 1


def test_message_too_big_is_a_delivery_error(notices: list[DepartmentNotice]) -> None:
    big = notices[0]
    server = LoopbackSmtp(data_size_limit=2000)
    with server, transport(server) as t, pytest.raises(DeliveryError) as caught:
        t.send(big.message, key=big.key)
    assert type(caught.value) is DeliveryError
    assert f"refused {big.key} from licensewatch@contoso.org: 552 " in caught.value.message
    assert server.messages == []


def test_message_without_recipients_is_a_delivery_error(smtp_server: LoopbackSmtp) -> None:
    with pytest.raises(DeliveryError, match="k-none has no recipient"):
        transport(smtp_server).send(message(**{"Reply-To": "x@x.org"}), key="k-none")
    assert smtp_server.connections == 0


# -- the relay down, busy or dropping -----------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind((smtpserver.HOST, 0))
        yield int(sock.getsockname()[1])


def test_relay_down_is_transport_unavailable(closed_port: int) -> None:
    options = SmtpOptions(host="127.0.0.1", port=closed_port, security="none", timeout_s=5)
    t = SmtpTransport(options, sender=SENDER)
    with pytest.raises(TransportUnavailable, match=f"127.0.0.1:{closed_port} cannot be reached"):
        t.send(message(), key="k")
    t.close()


def test_starttls_not_offered_is_transport_unavailable(smtp_server: LoopbackSmtp) -> None:
    t = transport(smtp_server, security="starttls", username="lw", password_env="LW_SMTP_PASSWORD")
    with pytest.raises(TransportUnavailable, match="does not offer STARTTLS"):
        t.send(message(), key="k")
    assert smtp_server.messages == []


def test_implicit_tls_against_a_plain_relay_is_transport_unavailable(
    smtp_server: LoopbackSmtp,
) -> None:
    with pytest.raises(TransportUnavailable, match="TLS with SMTP"):
        transport(smtp_server, security="tls").send(message(), key="k")


def test_busy_relay_421_is_transport_unavailable_until_it_recovers() -> None:
    with LoopbackSmtp(fail_next_connections=1) as server, transport(server) as t:
        with pytest.raises(TransportUnavailable, match=r"refused the connection: 421 4\.3\.2"):
            t.send(message(), key="k-1")
        t.send(message(), key="k-2")
    assert [m.connection for m in server.messages] == [2]


@pytest.mark.parametrize("reply", [None, "421 4.4.2 Idle connection closed"])
def test_reconnects_once_when_the_relay_dropped_the_connection(reply: str | None) -> None:
    with LoopbackSmtp() as server, transport(server) as t:
        t.send(message("first"), key="k-1")
        assert server.drop_connections(reply) == 1
        t.send(message("second"), key="k-2")
    assert [(m.message["Subject"], m.connection) for m in server.messages] == [
        ("first", 1),
        ("second", 2),
    ]


def test_reconnects_only_once() -> None:
    with LoopbackSmtp() as server, transport(server) as t:
        t.send(message("first"), key="k-1")
        server.drop_connections()
        server.fail_next_connections = 1
        with pytest.raises(TransportUnavailable, match="refused the connection: 421"):
            t.send(message("second"), key="k-2")
    assert len(server.messages) == 1


def test_close_says_quit_and_ignores_a_dead_connection(smtp_server: LoopbackSmtp) -> None:
    t = transport(smtp_server)
    t.close()  # never connected: nothing to say
    t.send(message(), key="k")
    smtp_server.drop_connections(None)
    t.close()
    t.close()
    assert smtp_server.quits == 0 and smtp_server.connections == 1


# -- construction and [mail.smtp] ---------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "state"), [({}, "not set"), ({"LW_SMTP_PASSWORD": ""}, "empty")]
)
def test_password_variable_must_be_set(environ: dict[str, str], state: str) -> None:
    options = SmtpOptions(host="relay.contoso.org", **LOGIN)
    with pytest.raises(
        ConfigError, match=rf"password_env names \$LW_SMTP_PASSWORD, which is {state}"
    ):
        SmtpTransport(options, sender=SENDER, environ=environ)


def test_sender_must_be_an_address() -> None:
    with pytest.raises(ConfigError, match=r"\[mail\] from must be an email address"):
        SmtpTransport(SmtpOptions(host="relay.contoso.org"), sender="ICT Licensing", environ={})


def test_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    options = SmtpOptions(host="relay.contoso.org", ca_file=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=r"\[mail.smtp\] ca_file .*missing.pem cannot be read"):
        SmtpTransport(options, sender=SENDER, environ={})


def test_from_table_reads_every_key(tmp_path: Path) -> None:
    table = {
        "host": " relay.contoso.org ",
        "port": 2587,
        "security": "starttls",
        "username": "licensewatch",
        "password_env": "LW_SMTP_PASSWORD",
        "timeout_s": 20,
        "ca_file": "certs/relay-ca.pem",
        "local_hostname": "batch01.contoso.org",
    }
    assert SmtpOptions.from_table(table, tmp_path) == SmtpOptions(
        host="relay.contoso.org",
        port=2587,
        security="starttls",
        username="licensewatch",
        password_env="LW_SMTP_PASSWORD",
        timeout_s=20.0,
        ca_file=tmp_path / "certs" / "relay-ca.pem",
        local_hostname="batch01.contoso.org",
    )


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_port_defaults_by_security(tmp_path: Path, security: str, port: int) -> None:
    options = SmtpOptions.from_table({"host": "relay", "security": security}, tmp_path)
    assert (options.port, options.security, options.timeout_s) == (port, security, 30.0)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_login_without_tls_is_allowed_on_loopback_only(tmp_path: Path, host: str) -> None:
    table = {"host": host, "security": "none", **LOGIN}
    assert SmtpOptions.from_table(table, tmp_path).username == "lw"


BAD_TABLES = [
    ({"host": "h", "pasword_env": "X"}, "unknown key 'pasword_env' in [mail.smtp]; valid keys"),
    ({"host": "h", "password": "hunter2-secret"}, "[mail.smtp] password is not allowed"),
    ({"port": 25}, "[mail.smtp] needs host"),
    ({"host": "  "}, "[mail.smtp] host must not be empty"),
    ({"host": "smtp relay"}, "[mail.smtp] host must be a host name"),
    ({"host": "h", "port": "25"}, "[mail.smtp] port must be int, not str"),
    ({"host": "h", "port": True}, "[mail.smtp] port must be int, not bool"),
    ({"host": "h", "port": 0}, "[mail.smtp] port must be 1 to 65535, not 0"),
    ({"host": "h", "port": 65536}, "[mail.smtp] port must be 1 to 65535, not 65536"),
    ({"host": "h", "timeout_s": 0}, "[mail.smtp] timeout_s must be more than 0"),
    ({"host": "h", "timeout_s": 601.5}, "[mail.smtp] timeout_s must be more than 0"),
    ({"host": "h", "timeout_s": "30"}, "[mail.smtp] timeout_s must be float"),
    ({"host": "h", "security": "ssl"}, "[mail.smtp] security must be one of starttls, tls, none"),
    ({"host": "h", "username": "lw"}, "[mail.smtp] password_env is missing"),
    ({"host": "h", "password_env": "X"}, "[mail.smtp] username is missing"),
    (
        {"host": "h", "username": "lw", "password_env": "hunter2-secret"},
        "[mail.smtp] password_env must name an environment variable",
    ),
    (
        {"host": "h", "username": "lw", "password_env": 12345},
        "[mail.smtp] password_env must be str",
    ),
    (
        {"host": "relay.contoso.org", "security": "none", **LOGIN},
        '[mail.smtp] security = "none" with a username would send the password',
    ),
    ({"host": "h", "security": "none", "ca_file": "ca.pem"}, "[mail.smtp] ca_file has no use"),
    ({"host": "h", "ca_file": 5}, "[mail.smtp] ca_file must be str"),
    ({"host": "h", "local_hostname": ""}, "[mail.smtp] local_hostname must not be empty"),
]


@pytest.mark.parametrize(("table", "expected"), BAD_TABLES)
def test_from_table_refuses(tmp_path: Path, table: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpOptions.from_table(table, tmp_path)
    assert expected in caught.value.message
    # A value that may be a secret is never repeated.
    assert "hunter2-secret" not in caught.value.one_line()
    assert "12345" not in caught.value.one_line()


def test_unknown_key_error_lists_the_valid_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpOptions.from_table({"host": "h", "user": "lw"}, tmp_path)
    assert caught.value.message.endswith(
        "valid keys are: host, port, security, username, password_env, timeout_s, ca_file, "
        "local_hostname"
    )


def test_password_key_hint_names_password_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpOptions.from_table({"host": "h", "password": "x"}, tmp_path)
    assert caught.value.hint is not None and "password_env" in caught.value.hint
