"""Step kinds: one module per kind, each a small class behind :class:`actions.base.Action`."""
