"""The footer, without the leak of its rebuilds.

Textual's Footer rebuilds its keys whenever the screen's bindings change (a modal opens or closes,
what the driver may press changes). Each ``FooterKey`` is built with ``data_bind(compact=...)``,
which leaves a watcher entry holding the key on the Footer itself; Textual prunes those only when
``compact`` changes, which it never does here (Textual issue #6666). So every rebuild kept the
keys it replaced: ~28 widgets and 0.7 MB per note or tick on the driver's console
(``benchmarks/ssh_sessions.py``, PSS after N ticks).
"""

from __future__ import annotations

from textual.widgets import Footer

WATCHERS = "__watchers"  # where textual.reactive keeps an object's watchers (set by name, not mangled)


class WarRoomFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.release_replaced_keys()

    def release_replaced_keys(self) -> None:
        """Drop the watcher entries of keys no longer in the DOM (those Textual would drop on a change)."""
        for entries in getattr(self, WATCHERS, {}).values():
            entries[:] = [(node, callback) for node, callback in entries if node.is_attached]
