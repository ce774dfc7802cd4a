"""An encrypted identity file in the console: its passphrase is asked once (a masked prompt), for
every host that logs in with that file, against real sshd hosts; a wrong one is said in one line
and forgotten, so the next connection asks again."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from textual.app import App
from textual.widgets import Input

from actions.base import Target
from actions.sshconnect import ConnectionPool, set_passphrase_prompt
from console.model.errors import AuthError
from screens.modals.prompt import PromptModal
from screens.startup import ask_passphrase

pytestmark = pytest.mark.sshd
PASSPHRASE = "typed once, kept in memory"


@pytest.fixture
def encrypted_hosts(tmp_path, lab):
    key = tmp_path / "encrypted_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", str(key)], check=True)
    with lab.authorized_keys.open("a") as f:
        f.write(key.with_suffix(".pub").read_text())
    hosts = [lab.start(name) for name in ("h1", "h2")]
    yield [Target(h.name, "127.0.0.1", h.port, lab.user, str(key), str(lab.known_hosts), 5.0) for h in hosts]
    set_passphrase_prompt(None)


async def wait_for_prompt(pilot) -> PromptModal:
    for _ in range(200):
        if isinstance(pilot.app.screen, PromptModal):
            return pilot.app.screen
        await pilot.pause(0.05)
    raise AssertionError("no passphrase prompt")


async def test_the_console_asks_once_for_every_host_sharing_the_key(encrypted_hosts):
    pool = ConnectionPool()
    app = App()
    set_passphrase_prompt(lambda target, path: ask_passphrase(app, target, path))
    async with app.run_test() as pilot:
        both = asyncio.ensure_future(asyncio.gather(*(pool.get(t) for t in encrypted_hosts)))
        modal = await wait_for_prompt(pilot)
        field = modal.query_one(Input)
        assert field.password, "the passphrase is typed masked"
        field.value = PASSPHRASE
        await pilot.press("enter")
        conns = await asyncio.wait_for(both, 30)
        await pilot.pause(0.1)
        assert not isinstance(pilot.app.screen, PromptModal), "asked a second time"
        assert all(not c.is_closed() for c in conns) and pool.opened == {"h1": 1, "h2": 1}
    await pool.close()


async def test_a_wrong_passphrase_is_one_line_and_asked_again(encrypted_hosts):
    asked: list[str] = []

    async def prompt(target, path):
        asked.append(target.name)
        return "not it" if len(asked) == 1 else PASSPHRASE

    set_passphrase_prompt(prompt)
    pool = ConnectionPool()
    with pytest.raises(AuthError) as refused:
        await pool.get(encrypted_hosts[0])
    assert str(refused.value).endswith(f"the passphrase typed does not decrypt {encrypted_hosts[0].identity_file}")
    assert "\n" not in str(refused.value)
    await pool.get(encrypted_hosts[0])
    await pool.get(encrypted_hosts[1])
    assert asked == ["h1", "h1"]
    await pool.close()
