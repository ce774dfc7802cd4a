"""The secret values a config can resolve now, so a report masks them even if a journal held one."""

from __future__ import annotations

from ..config import LoadedConfig, secret_refs
from ..errors import SecretError
from ..secrets import Redactor, resolve_ref


def config_secrets(config: LoadedConfig | None) -> list[str]:
    """Every resolvable secret of the config; one that does not resolve here is skipped."""
    if config is None:
        return []
    redactor = Redactor()
    for key, ref in secret_refs(config.model):
        try:
            resolve_ref(ref, where=key, redactor=redactor)
        except SecretError:
            continue
    return sorted(redactor.values)
