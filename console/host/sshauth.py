"""The authentication policy both of warroom's SSH servers share: public keys, nothing else."""

from __future__ import annotations

import asyncssh


class PublicKeyOnlyServer(asyncssh.SSHServer):
    """Passwords, keyboard-interactive and host-based logins are never offered.

    Subclasses set the user's authorised keys in ``begin_auth`` and must return True there:
    asyncssh reads False as "no authentication required".
    """

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False
