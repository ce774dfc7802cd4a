"""Resolving hosts without touching any (console.model.hosts): explicit keys over the OpenSSH
config, ProxyJump chains and hop specs, bastions ordered before the hosts behind them, and every
problem with an OpenSSH config file one line naming ``environment.ssh_config``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.model.config import load_config
from console.model.errors import ConfigError
from console.model.hosts import _parse_hop, resolve_targets


def config(tmp_path: Path, hosts: str, ssh: str | None = None, *, setting: str = "true") -> Path:
    extra = ""
    if ssh is not None:
        (tmp_path / "ssh_config").write_text(ssh)
        extra = f'ssh_config = "{tmp_path / "ssh_config"}"\n' if setting == "path" else f"ssh_config = {setting}\n"
    path = tmp_path / "config.toml"
    path.write_text(f'[environment]\nname = "t"\n{extra}\n{hosts}')
    return path


def test_explicit_keys_win_over_the_openssh_config_and_aliases_resolve(tmp_path):
    ssh = (
        "Host app1\n  HostName 10.1.0.5\n  Port 2200\n  User deploy\n  IdentityFile ~/.ssh/app_key\n"
        "  UserKnownHostsFile /etc/warroom/known_app\n  ProxyJump ops@jump.example:2022,relay\n"
        "Host relay\n  HostName 10.1.0.1\n"
    )
    hosts = (
        '[hosts.app1]\naddress = "app1"\nuser = "root"\n\n'
        '[hosts.bastion]\naddress = "192.0.2.1"\nuser = "ops"\nknown_hosts = "/k/bastion"\n'
    )
    targets = resolve_targets(load_config(config(tmp_path, hosts, ssh, setting="path")), {"app1"})
    app1 = targets["app1"]
    assert (app1.address, app1.port, app1.user, app1.alias) == ("10.1.0.5", 2200, "root", "app1")
    assert app1.known_hosts == "/etc/warroom/known_app" and app1.identity_file.endswith("/.ssh/app_key")
    assert [hop.name for hop in app1.chain()] == ["jump.example", "relay"]
    assert app1.route() == "root@10.1.0.5:2200 via jump.example -> relay"
    assert targets["jump.example"].login() == "ops@jump.example:2022"
    assert targets["relay"].address == "10.1.0.1" and targets["relay"].alias == "relay"
    assert list(targets) == ["jump.example", "relay", "app1"]  # dialled first, shown first

    ssh = ssh.replace(",relay", ",bastion")  # a [hosts] entry reached two ways is refused
    with pytest.raises(ConfigError, match=r"reaches bastion through jump.example, but \[hosts.bastion\] is reached"):
        resolve_targets(load_config(config(tmp_path, hosts, ssh, setting="path")), {"app1"})


def test_without_ssh_config_no_file_is_read_and_user_is_required(tmp_path):
    hosts = '[hosts.app1]\naddress = "app1"\nuser = "deploy"\n'
    path = config(tmp_path, hosts, "Host app1\n  HostName 10.9.9.9\n", setting="false")
    assert resolve_targets(load_config(path), {"app1"})["app1"].address == "app1"
    path.write_text('[environment]\nname = "t"\n\n[hosts.app1]\naddress = "app1"\n')
    with pytest.raises(ConfigError, match=r"config.toml:4: hosts.app1.user: missing required key"):
        load_config(path)


def test_an_openssh_config_problem_is_one_line_naming_the_key(tmp_path):
    path = config(tmp_path, '[hosts.app1]\naddress = "app1"\n', "Host app1\n  Port\n", setting="path")
    with pytest.raises(ConfigError) as problem:
        resolve_targets(load_config(path), {"app1"})
    assert "environment.ssh_config: host app1:" in str(problem.value) and "line 2" in str(problem.value)
    missing = config(tmp_path, '[hosts.app1]\naddress = "app1"\n', None)
    missing.write_text(missing.read_text().replace('name = "t"', 'name = "t"\nssh_config = "nope/config"'))
    with pytest.raises(ConfigError, match=r"environment.ssh_config: file .*nope/config does not exist"):
        resolve_targets(load_config(missing), {"app1"})


def test_a_proxyjump_loop_is_refused(tmp_path):
    ssh = "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n"
    path = config(tmp_path, '[hosts.a]\naddress = "a"\n', ssh, setting="path")
    with pytest.raises(ConfigError, match="the bastion chain loops"):
        resolve_targets(load_config(path), {"a"})


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("bastion", ("", "bastion", None)),
        ("ops@bastion:2022", ("ops", "bastion", 2022)),
        ("ssh://ops@[2001:db8::1]:22", ("ops", "2001:db8::1", 22)),
        ("a@b@host", ("a@b", "host", None)),
        ("host:99999", ("", "", None)),
    ],
)
def test_hop_specs(spec, parsed):
    assert _parse_hop(spec) == parsed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.sampled_from(list("Host ProxyJump HostName Port User = \"'#,@:[]\n\tab1%")), max_size=120))
def test_any_openssh_config_text_resolves_or_is_one_config_error(tmp_path, text):
    path = config(tmp_path, '[hosts.a]\naddress = "a"\nuser = "u"\n', text, setting="path")
    try:
        targets = resolve_targets(load_config(path), {"a"})
    except ConfigError as exc:
        assert "\n" not in str(exc) and "environment.ssh_config" in str(exc)
    else:
        assert "a" in targets
