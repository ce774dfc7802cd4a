"""The warroom Textual app: opens (or is handed) an incident session and shows the war room."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Awaitable, Callable, Iterable
from signal import SIGUSR2 as REPAINT_SIGNAL  # console.host.sharedview.REPAINT_SIGNAL, without its imports
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.model.errors import InputError, WarroomError

from .commands import WarroomCommands
from .preparing import PreparingScreen

if TYPE_CHECKING:  # the engine, the step kinds and the war room load behind the first frame
    from console.host.session import Session
    from console.model.plan import Plan

    from .modals.open_incident import Opening


def neutralise(text: str) -> str:
    """:func:`console.model.sanitize.neutralise`, imported when first needed: it loads pydantic."""
    from console.model.sanitize import neutralise as strip_controls

    return strip_controls(text)


Opener = Callable[["Opening"], Awaitable["Session"]]
Startup = Callable[[], Awaitable[tuple["Plan", Opener] | None]]
"""The plan and opener, or None when it ended the app itself."""
Connect = Callable[[], Awaitable["Session"]]
Shutdown = Callable[[], Awaitable[None]]


class WarroomApp(App[int]):
    """Given ``session``, ``connect`` (resume, observers), ``plan`` + ``opener`` (new incident), or ``startup``.

    The app only shows a session: whoever hands it one (``console.host.incident_host`` for an
    engine in this process) serves the incident and watches its deadlines. ``connect`` and
    ``opener`` run on the app's own event loop, where the session's servers must live;
    ``startup`` runs there too, behind a first frame titled ``preparing`` (the drill builds its
    sandbox and starts its servers, a run loads its step kinds; both pass the preflight gate) and
    returns the plan and opener; ``shutdown`` runs at exit, after the session is closed.
    """

    CSS_PATH = "warroom.tcss"
    TITLE = "warroom"
    COMMANDS = App.COMMANDS | {WarroomCommands}
    BINDINGS = [Binding("ctrl+p", "command_palette", "Palette", show=False, id="palette")]

    def __init__(
        self,
        *,
        session: Session | None = None,
        plan: Plan | None = None,
        opener: Opener | None = None,
        keymap: dict[str, str] | None = None,
        severity: str = "P0",
        trigger: str = "",
        startup: Startup | None = None,
        shutdown: Shutdown | None = None,
        show_score: bool = False,
        connect: Connect | None = None,
        preparing: str = "Preparing the incident",
    ) -> None:
        super().__init__()
        self.session = session
        self._plan = plan
        self._opener = opener
        self._keymap = keymap or {}
        self._severity = severity
        self._trigger = trigger
        self._startup_hook = startup
        self._shutdown_hook = shutdown
        self.show_score = show_score
        self._connect = connect
        self._preparing = preparing
        self._failure = ""

    def notify(self, message: str, *, title: str = "", **kwargs) -> None:
        """Every notification (the screens' too) passes here: its text can hold what a host said
        (a disconnect reason, a file name, git's stderr), shown without its control sequences."""
        super().notify(neutralise(str(message)), title=neutralise(str(title)), **kwargs)

    async def on_mount(self) -> None:
        self.set_keymap(self._keymap)
        if self._connect is not None:
            self._repaint_on_request()
            try:
                self.session = await self._connect()
            except WarroomError as exc:
                self._fail(exc, code=2)
                return
        if self._startup_hook is not None:
            # paint first: the slow part runs in a worker once this frame is out, and escape quits it
            await self.push_screen(PreparingScreen(self._preparing))
            self.call_after_refresh(lambda: self.run_worker(self._start(), name="startup"))
            return
        if self.session is not None:
            await self._enter(self.session)
        else:
            self._ask_opening(self._severity)

    def _repaint_on_request(self) -> None:
        """The SSH server's shared view asks for a whole frame when someone joins (REPAINT_SIGNAL)."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            asyncio.get_running_loop().add_signal_handler(REPAINT_SIGNAL, lambda: self.call_next(self.refresh))

    async def _start(self) -> None:
        assert self._startup_hook is not None
        try:
            started = await self._startup_hook()
        except WarroomError as exc:
            self._fail(exc)
            return
        if started is None:
            return
        self._plan, self._opener = started
        if isinstance(self.screen, PreparingScreen):
            await self.pop_screen()
        self._ask_opening(self._severity)

    def _fail(self, exc: WarroomError, code: int | None = None) -> None:
        """End with the one line and the code the CLI gives for ``exc``, printed by :meth:`run` once
        the terminal is restored (unwrapped: Textual's exit message is wrapped to the screen)."""
        self._failure = neutralise(f"warroom: {exc.title}: {exc}")
        self.exit(code or (2 if isinstance(exc, InputError) else 1))

    def run(self, *args, **kwargs) -> int | None:
        result = super().run(*args, **kwargs)
        if self._failure:
            print(self._failure, file=sys.stderr)
        return result

    def preparing(self, stage: str) -> None:
        """Say on the first frame what the startup is doing now (nothing once it is gone)."""
        if isinstance(self.screen, PreparingScreen):
            self.screen.stage(stage)

    def _ask_opening(self, severity: str) -> None:
        from .modals.open_incident import OpenIncidentModal

        assert self._plan is not None and self._opener is not None
        self.push_screen(OpenIncidentModal(self._plan, severity=severity, trigger=self._trigger), self._opened)

    async def _opened(self, opening: Opening | None) -> None:
        if opening is None:
            self.exit(1)
            return
        assert self._opener is not None
        session: Session | None = None
        try:
            session = await self._opener(opening)
            if session.state.driver is None:
                await session.command("take-seat")
            if opening.decision:
                await session.command("decide", decision=opening.decision, reason=opening.reason)
        except WarroomError as exc:
            if session is not None:
                await session.aclose()  # its socket and watcher too; the incident stays in its journal
            self.notify(str(exc), title=exc.title, severity="error", timeout=15, markup=False)
            self._ask_opening(opening.severity)
            return
        self.session = session
        await self._enter(session)

    async def _enter(self, session: Session) -> None:
        from .war_room import WarRoomScreen

        self.sub_title = f"{session.plan.runbook['title']} · {session.state.id}"
        self.push_screen(WarRoomScreen(session))
        # Freeze the widgets built so far out of the collector: full collections over them paused the
        # loop for 60-250 ms during output floods (benchmarks/stream_console.py).
        self.call_after_refresh(gc.freeze)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette commands but its screenshot, which writes an SVG file into the home
        of whoever runs the console: on a served incident, the server's account."""
        return (command for command in super().get_system_commands(screen) if command.title != "Screenshot")

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """No screenshot files: a console of a served incident runs on the server."""
        self.notify("Screenshots are not saved: use your terminal's own.", severity="warning", markup=False)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Where Textual saves a screenshot from: refused the same way."""
        self.action_screenshot()
        return None

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit get the same guard as q: never abandon a running step."""
        from .war_room import WarRoomScreen

        screen = next((s for s in self.screen_stack if isinstance(s, WarRoomScreen)), None)
        if screen is not None:
            await screen.action_quit()
        else:
            self.exit()

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.aclose()
        if self._shutdown_hook is not None:
            await self._shutdown_hook()
