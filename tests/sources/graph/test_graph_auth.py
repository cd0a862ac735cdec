"""Signing in to Graph: secrets, certificate files, and MSAL against recorded answers."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from licensewatch.errors import ConfigError, SourceAuthError
from licensewatch.graph.auth import (
    Credential,
    MsalTokens,
    certificate_from_file,
    graph_scope,
    secret_from_env,
    uses_instance_discovery,
)
from licensewatch.graph.errors import TokenUnavailable
from tests.sources.graph.conftest import (
    CLIENT,
    DISCOVERY_URL,
    FIRST_TOKEN,
    OPENID_URL,
    SECOND_TOKEN,
    SECRET,
    TENANT,
    TOKEN_URL,
    add_login,
    calls,
    doc,
)

PASSWORD = "pfx-pass-Zz9!"


class Cert:
    """A self-signed app certificate and its key, as the Entra admin center would take it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "licensewatch-test")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.thumbprint = self.cert.fingerprint(hashes.SHA1()).hex().upper()

    def key_pem(self, password: str | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def pfx(self, password: str) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"licensewatch",
            self.key,
            self.cert,
            None,
            serialization.BestAvailableEncryption(password.encode()),
        )


@pytest.fixture(scope="module")
def cert() -> Cert:
    return Cert()


def der_b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- client secret ---------------------------------------------------------------------------


def test_secret_comes_from_the_named_variable() -> None:
    credential = secret_from_env("LW_SECRET", {"LW_SECRET": SECRET})
    assert credential.value == SECRET
    assert SECRET not in repr(credential) and "$LW_SECRET" in credential.description


@pytest.mark.parametrize(("environ", "says"), [({}, "not set"), ({"LW_SECRET": "  "}, "empty")])
def test_missing_or_empty_secret_names_the_variable(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        secret_from_env("LW_SECRET", environ)
    assert "$LW_SECRET" in caught.value.message and says in caught.value.message
    assert "export LW_SECRET" in (caught.value.hint or "")


# --- certificates ----------------------------------------------------------------------------


def test_pem_with_key_and_certificate_gives_msal_the_certificate(
    cert: Cert, tmp_path: Path
) -> None:
    path = write(tmp_path / "app.pem", cert.cert_pem() + cert.key_pem())
    credential = certificate_from_file(path, thumbprint=None, password_env=None, environ={})
    assert isinstance(credential.value, dict)
    # No SHA-1 "thumbprint": MSAL computes the SHA-256 one from the certificate.
    assert set(credential.value) == {"private_key", "public_certificate"}
    assert credential.value["public_certificate"] == cert.cert_pem().decode()
    assert "PRIVATE KEY" in credential.value["private_key"]
    assert "PRIVATE KEY" not in repr(credential) and cert.thumbprint in credential.description


def test_configured_thumbprint_is_normalized_and_checked(cert: Cert, tmp_path: Path) -> None:
    path = write(tmp_path / "app.pem", cert.key_pem() + cert.cert_pem())
    spaced = ":".join(cert.thumbprint[i : i + 2] for i in range(0, 40, 2)).lower()
    credential = certificate_from_file(path, thumbprint=spaced, password_env=None, environ={})
    assert isinstance(credential.value, dict) and "thumbprint" not in credential.value
    assert credential.description == f"certificate {cert.thumbprint}"
    with pytest.raises(ConfigError, match=f"its SHA-1 thumbprint is {cert.thumbprint}"):
        certificate_from_file(path, thumbprint="AB" * 20, password_env=None, environ={})
    with pytest.raises(ConfigError, match="not a SHA-1 thumbprint"):
        certificate_from_file(path, thumbprint="ABC", password_env=None, environ={})


@pytest.mark.parametrize("configured", [False, True])
def test_key_only_pem_is_refused_as_it_needs_the_sha1_form(
    cert: Cert, tmp_path: Path, configured: bool
) -> None:
    path = write(tmp_path / "key.pem", cert.key_pem())
    with pytest.raises(ConfigError, match="holds a private key but no certificate") as caught:
        certificate_from_file(
            path, thumbprint=cert.thumbprint if configured else None, password_env=None, environ={}
        )
    assert "SHA-256" in caught.value.message and "cat key.pem cert.pem" in (caught.value.hint or "")


def test_encrypted_pem_uses_the_password_variable(cert: Cert, tmp_path: Path) -> None:
    path = write(tmp_path / "app.pem", cert.cert_pem() + cert.key_pem(PASSWORD))
    env = {"LW_CERT_PASSWORD": PASSWORD}
    credential = certificate_from_file(
        path, thumbprint=None, password_env="LW_CERT_PASSWORD", environ=env
    )
    assert isinstance(credential.value, dict)
    # MSAL gets the key unencrypted, in memory only.
    assert "ENCRYPTED" not in credential.value["private_key"]
    with pytest.raises(ConfigError, match="encrypted: set certificate_password_env"):
        certificate_from_file(path, thumbprint=None, password_env=None, environ={})
    with pytest.raises(ConfigError) as caught:
        certificate_from_file(
            path,
            thumbprint=None,
            password_env="LW_CERT_PASSWORD",
            environ={"LW_CERT_PASSWORD": "x"},
        )
    assert "wrong password" in caught.value.message and "x" not in caught.value.message.split()


def test_pfx_with_password(cert: Cert, tmp_path: Path) -> None:
    path = write(tmp_path / "app.pfx", cert.pfx(PASSWORD))
    credential = certificate_from_file(
        path, thumbprint=None, password_env="PFX_PW", environ={"PFX_PW": PASSWORD}
    )
    assert isinstance(credential.value, dict) and "thumbprint" not in credential.value
    assert credential.value["public_certificate"] == cert.cert_pem().decode()
    with pytest.raises(ConfigError) as caught:
        certificate_from_file(
            path, thumbprint=None, password_env="PFX_PW", environ={"PFX_PW": "no"}
        )
    assert "PFX" in caught.value.message and PASSWORD not in caught.value.one_line()
    with pytest.raises(ConfigError, match=r"\$PFX_PW, which is not set"):
        certificate_from_file(path, thumbprint=None, password_env="PFX_PW", environ={})


def test_unreadable_certificate_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        certificate_from_file(tmp_path / "nope.pem", thumbprint=None, password_env=None, environ={})
    junk = write(tmp_path / "junk.pfx", b"\x00\x01 not a certificate")
    with pytest.raises(ConfigError, match="not a readable PFX"):
        certificate_from_file(junk, thumbprint=None, password_env=None, environ={})


# --- authority and scope ---------------------------------------------------------------------


def test_instance_discovery_only_for_the_worldwide_host() -> None:
    assert uses_instance_discovery("https://login.microsoftonline.com")
    assert not uses_instance_discovery("https://login.microsoftonline.us")
    assert not uses_instance_discovery("https://127.0.0.1:8443/emulator")


def test_scope_follows_the_graph_deployment() -> None:
    assert graph_scope("https://graph.microsoft.com/v1.0") == "https://graph.microsoft.com/.default"
    assert graph_scope("https://graph.microsoft.us/v1.0") == "https://graph.microsoft.us/.default"


# --- MSAL against recorded answers -----------------------------------------------------------


def tokens(
    credential: Credential, authority: str = "https://login.microsoftonline.com"
) -> MsalTokens:
    return MsalTokens(
        tenant_id=TENANT,
        client_id=CLIENT,
        credential=credential,
        session=requests.Session(),
        timeout=(10.0, 60.0),
        authority=authority,
    )


def form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def test_token_is_reused_and_refreshed_on_demand(rsps: responses.RequestsMock) -> None:
    add_login(rsps, "token.json", "token_refreshed.json")
    source = tokens(secret_from_env("S", {"S": SECRET}))
    assert source.token() == FIRST_TOKEN
    assert source.token() == FIRST_TOKEN  # from MSAL's cache, no request
    assert source.refresh() == SECOND_TOKEN
    assert calls(rsps) == [("GET", OPENID_URL), ("POST", TOKEN_URL), ("POST", TOKEN_URL)]
    sent = form(rsps.calls[1])
    assert sent["grant_type"] == "client_credentials"
    assert sent["scope"] == "https://graph.microsoft.com/.default"
    assert sent["client_id"] == CLIENT and sent["client_secret"] == SECRET
    assert all(c.request.req_kwargs["timeout"] == (10.0, 60.0) for c in rsps.calls)
    assert source.requests == 3


def test_other_authority_host_skips_instance_discovery(rsps: responses.RequestsMock) -> None:
    # A national cloud or an emulator: MSAL must not ask login.microsoftonline.com about it
    # (responses would refuse that request).
    host = "https://login.example.test"
    openid = json.dumps(doc("openid_configuration.json")).replace(
        "https://login.microsoftonline.com", host
    )
    rsps.get(f"{host}/{TENANT}/v2.0/.well-known/openid-configuration", body=openid)
    rsps.post(f"{host}/{TENANT}/oauth2/v2.0/token", json=doc("token.json"))
    assert tokens(secret_from_env("S", {"S": SECRET}), authority=host).token() == FIRST_TOKEN
    assert [u for _, u in calls(rsps)] == [
        f"{host}/{TENANT}/v2.0/.well-known/openid-configuration",
        f"{host}/{TENANT}/oauth2/v2.0/token",
    ]


@pytest.mark.parametrize("kind", ["pfx", "pem"])
def test_certificate_signs_the_client_assertion_with_ps256_and_its_sha256_thumbprint(
    rsps: responses.RequestsMock, cert: Cert, tmp_path: Path, kind: str
) -> None:
    add_login(rsps)
    if kind == "pfx":
        path = write(tmp_path / "app.pfx", cert.pfx(PASSWORD))
    else:
        path = write(tmp_path / "app.pem", cert.key_pem(PASSWORD) + cert.cert_pem())
    credential = certificate_from_file(
        path, thumbprint=None, password_env="PW", environ={"PW": PASSWORD}
    )
    assert tokens(credential).token() == FIRST_TOKEN
    sent = form(rsps.calls[1])
    assert "client_secret" not in sent
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header_b64, payload_b64, signature_b64 = sent["client_assertion"].split(".")

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    header = json.loads(unb64(header_b64))
    # MSAL's SHA-256 form, not the deprecated SHA-1 one (RS256 + x5t).
    assert header["alg"] == "PS256" and "x5t" not in header
    der = cert.cert.public_bytes(serialization.Encoding.DER)
    # base64url of the SHA-256 of the DER certificate (MSAL keeps the "=" padding).
    assert unb64(header["x5t#S256"].rstrip("=")) == hashlib.sha256(der).digest()
    # With the certificate given, MSAL also sends it (x5c, as PEM body lines).
    assert ["".join(c.split()) for c in header.get("x5c", [])] in ([], [der_b64(der)])
    payload = json.loads(unb64(payload_b64))
    assert payload["aud"] == TOKEN_URL and payload["iss"] == CLIENT
    cert.key.public_key().verify(
        unb64(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


def test_token_error_keeps_msal_error_but_never_the_secret(rsps: responses.RequestsMock) -> None:
    add_login(rsps, "token_error_invalid_client.json")
    with pytest.raises(SourceAuthError) as caught:
        tokens(secret_from_env("S", {"S": SECRET})).token()
    assert calls(rsps) == [("GET", OPENID_URL), ("POST", TOKEN_URL), ("GET", DISCOVERY_URL)]
    text = caught.value.one_line()
    assert "invalid_client" in text and "AADSTS7000215: Invalid client secret provided" in text
    assert "client secret from $S" in text and "certificate" in (caught.value.hint or "")
    assert SECRET not in text


def test_secret_echoed_by_the_server_is_scrubbed(rsps: responses.RequestsMock) -> None:
    rsps.get(OPENID_URL, json=doc("openid_configuration.json"))
    error = {"error": "invalid_request", "error_description": f"AADSTS900144: bad {SECRET} here"}
    rsps.post(TOKEN_URL, json=error, status=400)
    rsps.get(DISCOVERY_URL, json=doc("instance_discovery.json"))
    with pytest.raises(SourceAuthError) as caught:
        tokens(secret_from_env("S", {"S": SECRET})).token()
    assert SECRET not in caught.value.one_line() and "bad *** here" in caught.value.message


def test_unknown_tenant_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    rsps.get(OPENID_URL, json={"error": "invalid_tenant"}, status=400)
    with pytest.raises(SourceAuthError) as caught:
        tokens(secret_from_env("S", {"S": SECRET})).token()
    assert "tenant_id" in (caught.value.hint or "")


def test_unreachable_identity_platform_is_worth_retrying(rsps: responses.RequestsMock) -> None:
    rsps.get(OPENID_URL, body=requests.ConnectionError("no route to host"))
    with pytest.raises(TokenUnavailable):
        tokens(secret_from_env("S", {"S": SECRET})).token()
