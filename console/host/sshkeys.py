"""What the built-in SSH server trusts: its host key and the team's public keys, each file checked
as sshd's StrictModes would check it before it is believed."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.model.config import LoadedConfig, ServerUser
from console.model.errors import InputError

HOST_KEY_NAME = "ssh_host_ed25519_key"


class UnsafeFile(InputError):
    title = "Unsafe file"


@dataclass(frozen=True)
class Account:
    role: str
    keys: asyncssh.SSHAuthorizedKeys


# ----- files the server trusts ------------------------------------------------------------------------
def _check_file(path: Path, what: str, *, private: bool) -> None:
    """Refuse what sshd's StrictModes refuses: a symlink, another user's file, a file others can write
    (and, for a private key, read)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(f"{what} {path} is a symlink; refusing to trust it (point the config at the real file)")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{what} {path} is not a regular file")
    if info.st_uid not in (os.getuid(), 0):
        raise UnsafeFile(f"{what} {path} belongs to another user (uid {info.st_uid}); refusing to trust it")
    mask = 0o077 if private else 0o022
    if info.st_mode & mask:
        who = "group/others can read or write it" if private else "group/others can write it"
        raise UnsafeFile(f"{what} {path} has mode {stat.S_IMODE(info.st_mode):04o}: {who}; chmod go-rwx it")


def host_key_path(config: LoadedConfig) -> Path:
    configured = config.model.server.host_key
    if configured:
        return Path(os.path.expanduser(configured))
    return config.model.state_dir() / HOST_KEY_NAME


def load_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's identity: generated once (ed25519, mode 0600, with a ``.pub`` beside it to pin)."""
    if not path.exists() and not path.is_symlink():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="warroom")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
        path.with_name(path.name + ".pub").write_bytes(key.export_public_key())
        return key
    _check_file(path, "SSH host key", private=True)
    try:
        return asyncssh.read_private_key(path)
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        raise InputError(f"SSH host key {path}: cannot be read: {exc}") from None


def _parse_keys(lines: list[str], where: str) -> list[str]:
    """Every non-comment line must be a key: a typo must not silently lock someone out (or in)."""
    good = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            asyncssh.import_authorized_keys(text)
        except (ValueError, asyncssh.KeyImportError):
            raise InputError(f"{where}: line {number} is not a valid public key") from None
        good.append(text)
    return good


def load_accounts(users: list[ServerUser]) -> dict[str, Account]:
    accounts = {}
    for user in users:
        lines = _parse_keys(user.public_keys, f"server.users {user.name}: public_keys")
        if user.authorized_keys:
            path = Path(os.path.expanduser(user.authorized_keys))
            _check_file(path, f"authorized_keys of {user.name}", private=False)
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"authorized_keys of {user.name} {path}: cannot be read: {exc}") from None
            lines += _parse_keys(text.splitlines(), f"authorized_keys of {user.name} {path}")
        if not lines:
            raise InputError(f"server.users {user.name}: no public key given")
        accounts[user.name] = Account(user.role, asyncssh.import_authorized_keys("\n".join(lines)))
    return accounts


def check_files(config: LoadedConfig) -> None:
    """Everything ``start`` will trust, checked (and the host key made) before an incident is opened."""
    load_accounts(config.model.server.users)
    load_host_key(host_key_path(config))
