"""Who may open the status page: the ``[web]`` section's one-line errors, viewers logging in with
a password (basic auth, HTTPS only) next to the token link, and the options of serve and drill."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook
from serve_support import WARROOM
from web_support import ServedPage, get

from console.host.web.access import TOKEN_FILE, incident_token
from console.host.web.serve import http_listen
from console.model.config import load_config
from console.model.errors import ConfigError, IncidentError, InputError
from console.model.webconfig import parse_listen

PASSWORD = "correct horse battery staple"


def _config(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\n\n[groups]\napp = ["h1"]\n\n'
        + web
    )
    return path


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ('[web]\nlisten = "80:80:80"\n', "config.toml:12: web.listen: expected [ADDR:]PORT"),
        ('[web]\ncertificate = "c.pem"\n', "web.key: HTTPS needs both certificate and key"),
        (
            '[[web.viewers]]\nname = "cfo"\npassword = "env:CFO"\n',
            "web.viewers: viewers log in with a password: set certificate and key (HTTPS)",
        ),
        (
            '[web]\ncertificate = "c"\nkey = "k"\n[[web.viewers]]\nname = "cfo"\npassword = "hunter2"\n',
            "web.viewers[0].password: inline secrets are not allowed",
        ),
        ("[web]\ntoken = false\n", "web.token: with token = false, give [[web.viewers]]"),
        ("[web]\nrefresh = 1\n", "web.refresh"),
    ],
)
def test_a_bad_web_section_is_one_line_naming_the_key(tmp_path, web, message):
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, web))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_listen_addresses():
    assert parse_listen("8080") == ("127.0.0.1", 8080)
    assert parse_listen("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("", "host:", ":80", "70000", "a b:1"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_malformed_http_options_are_one_line(tmp_path):
    config, runbook = _config(tmp_path, ""), write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    serve = [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--http", "nowhere:"]
    served = subprocess.run(serve, capture_output=True, text=True)
    assert served.returncode != 0
    expected = "warroom: Invalid input: --http: expected [ADDR:]PORT (e.g. 8080 or 0.0.0.0:8080), got 'nowhere:'"
    assert served.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("journal.jsonl"))
    drill = subprocess.run([WARROOM, "drill", "--headless", "--http", "8080"], capture_output=True, text=True)
    assert drill.returncode != 0
    assert "--http is for the console" in drill.stderr and "Traceback" not in drill.stderr


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(["openssl", "req", "-x509", *curve, *names, *files], check=True, capture_output=True)
    return cert, key


@pytest.mark.sshd
def test_viewers_log_in_over_https_and_are_counted_by_name(tmp_path, lab):
    cert, key = _certificate(tmp_path)
    web = (
        f'\n[web]\ncertificate = "{cert}"\nkey = "{key}"\n'
        '[[web.viewers]]\nname = "cfo"\npassword = "env:WEB_CFO_PASSWORD"\n'
    )
    config = write_config(tmp_path / "config.toml", lab, ["app1"], extra=web)
    runbook = write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    page = ServedPage(tmp_path, config, runbook, env={"WEB_CFO_PASSWORD": PASSWORD})
    try:
        assert page.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        status, headers, _ = get(page.root, context=trusted)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
        for credentials in ("cfo:wrong", "ceo:" + PASSWORD, "cfo" + PASSWORD, "cfo:"):
            login = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
            assert get(page.root, headers=login, context=trusted)[0] == 401, credentials
        login = {"Authorization": "Basic " + base64.b64encode(f"cfo:{PASSWORD}".encode()).decode()}
        status, headers, body = get(page.root, headers=login, context=trusted)
        assert status == 200 and "Test rollback" in body
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in headers["Set-Cookie"]
        assert get(page.url, context=trusted)[0] == 200  # the token link works as well
        joined = [r for r in page.records() if r["type"] == "presence.joined" and r["data"]["via"] == "web"]
        assert [r["actor"] for r in joined] == ["cfo", "web-1"]
        assert PASSWORD not in page.journal.read_text() and PASSWORD not in page.stderr.read_text()
    finally:
        page.stop()


def test_the_token_is_made_once_per_incident_and_kept_private(tmp_path):
    token = incident_token(tmp_path)
    assert incident_token(tmp_path) == token  # a restarted serve hands out the same link
    assert len(token) >= 32 and stat.S_IMODE((tmp_path / TOKEN_FILE).stat().st_mode) == 0o600
    (tmp_path / TOKEN_FILE).chmod(0o644)
    with pytest.raises(IncidentError, match="readable by others"):
        incident_token(tmp_path)
    (tmp_path / TOKEN_FILE).unlink()
    (tmp_path / TOKEN_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(IncidentError, match=r"web\.token"):
        incident_token(tmp_path)


def test_a_viewer_password_that_does_not_resolve_stops_serve_before_anything_opens(tmp_path):
    cert, key = _certificate(tmp_path)
    web = f'[web]\ncertificate = "{cert}"\nkey = "{key}"\n[[web.viewers]]\nname = "cfo"\npassword = "env:WEB_NOT_SET"\n'
    config, runbook = _config(tmp_path, web), write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    served = subprocess.run(
        [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--http", "0"], capture_output=True, text=True
    )
    assert served.returncode != 0
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1 and "web.viewers[0].password (cfo): environment variable WEB_NOT_SET is not set" in lines[0]
    assert not list(tmp_path.rglob("journal.jsonl"))
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    config.write_text(config.read_text().replace(str(cert), str(tmp_path / "bad.pem")))
    served = subprocess.run(
        [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--http", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "WEB_NOT_SET": "set now"},
    )
    assert served.returncode != 0 and "web.certificate" in served.stderr and "cannot load" in served.stderr
    assert len(served.stderr.strip().splitlines()) == 1 and not list(tmp_path.rglob("journal.jsonl"))


@pytest.mark.sshd
def test_a_taken_port_is_one_line(tmp_path, lab):
    config = write_config(tmp_path / "config.toml", lab, ["app1"])
    runbook = write_runbook(tmp_path / "rb.toml", ssh_step("hello", "true"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = subprocess.run(
            [WARROOM, "serve", "-c", str(config), "--runbook", str(runbook), "--http", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert served.returncode != 0
    assert (
        served.stderr.strip().splitlines()
        == [f"warroom: Cannot serve the page: web 127.0.0.1:{port}: cannot listen: address already in use"]
        or "cannot listen" in served.stderr.strip().splitlines()[-1]
    )
    assert "Traceback" not in served.stderr


def test_http_comes_from_the_option_or_the_config(tmp_path):
    plain = load_config(_config(tmp_path, ""))
    assert http_listen(None, plain) is None  # no page unless asked for
    assert http_listen("9000", plain) == "9000"
    configured = load_config(_config(tmp_path, '[web]\nlisten = "0.0.0.0:8080"\n'))
    assert http_listen(None, configured) == "0.0.0.0:8080"
    assert http_listen("127.0.0.1:9000", configured) == "127.0.0.1:9000"  # the option wins
    with pytest.raises(InputError, match=r"^--http: expected \[ADDR:\]PORT"):
        http_listen("port 80", configured)
