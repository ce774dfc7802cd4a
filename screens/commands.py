"""The command palette: the same actions as the bindings, plus one entry per step."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content


class WarroomCommands(Provider):
    """Context-aware: only what the current role and state allow is offered."""

    def _screen(self):
        from .war_room import WarRoomScreen

        return next((s for s in reversed(self.app.screen_stack) if isinstance(s, WarRoomScreen)), None)

    def _entries(self) -> list[tuple[str, object, str]]:
        from console.model import rules  # the plan's models: loaded behind the first frame
        from console.model.keymap import ACTIONS

        screen = self._screen()
        if screen is None:
            return []
        entries: list[tuple[str, object, str]] = []
        for binding_id, (_key, description) in ACTIONS.items():
            action = binding_id.replace("-", "_")
            if screen.offered(action) is True:
                entries.append((description, partial(screen.run_action, action), f"binding {binding_id}"))
        if screen.session.is_driver:
            for step in screen.session.plan.ordered_steps():
                if rules.may_start(step, screen.session.state):
                    entries.append(
                        (
                            f"Run step: {step.title} ({step.id})",
                            partial(screen.run_step_by_id, step.id),
                            "runs it now (destructive steps ask to confirm)",
                        )
                    )
        return entries

    async def discover(self) -> Hits:
        for name, callback, help_text in self._entries():
            yield DiscoveryHit(Content(name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, _highlight(matcher, name), callback, text=name, help=help_text)


def _highlight(matcher: Matcher, name: str) -> Content:
    """The matched letters highlighted, as ``Matcher.highlight`` does, but on the name as text:
    ``highlight`` reads it as markup, so a step title holding ``[...]`` lost words."""
    content = Content(name)
    _, offsets = matcher.fuzzy_search.match(matcher.query, name)
    for offset in offsets:
        if not name[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
