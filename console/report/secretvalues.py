"""The secret values a config can resolve now, so a report masks them even if a journal held one."""

from __future__ import annotations

from console.model.config import LoadedConfig, config_redactor


def config_secrets(config: LoadedConfig | None) -> list[str]:
    """Every resolvable secret of the config; one that does not resolve here is skipped."""
    return sorted(config_redactor(config).values)
