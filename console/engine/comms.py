"""Comms: the plan's messages, sent through their channel or recorded as sent another way."""

from __future__ import annotations

from typing import Any

from console.engine.actor import SYSTEM, Actor
from console.engine.core import EngineCore
from console.model import events
from console.model.errors import ActionError
from console.model.facts import incident_facts


class CommsMixin(EngineCore):
    """A message that fails is journaled and reported; it never blocks the rollback."""

    def _comm(self, actor: Actor, comm_id: str) -> dict[str, Any]:
        self._require(actor, "comms", comm=comm_id)
        comm = next((c for c in self.plan.comms if c["id"] == comm_id), None)
        if comm is None:
            known = ", ".join(c["id"] for c in self.plan.comms) or "none"
            raise self.refuse(actor, "comms", f"no comms item {comm_id!r} (plan: {known})", comm=comm_id)
        return comm

    def record_comms(self, actor: Actor, comm_id: str, note: str = "", channel_result: str = "") -> None:
        comm = self._comm(actor, comm_id)
        self._commit(
            events.COMMS_SENT,
            {
                "comm": comm_id,
                "channel": comm["channel"],
                "to": comm["to"],
                "note": note,
                "result": channel_result,
            },
            actor,
        )

    async def send_comms(self, actor: Actor, comm_id: str, note: str = "", *, via: str = "channel") -> str:
        """Send a planned message through its configured channel and journal the outcome.

        ``via="manual"`` records a message sent another way (a phone call, a channel warroom does
        not drive). A delivery that fails is journaled as ``comms.failed`` and reported; it never
        blocks the rollback, and the message stays due so it can be retried or recorded.
        """
        from actions.notify import send

        comm = self._comm(actor, comm_id)
        channel = comm["channel"]
        notify = self.config.model.notify if self.config is not None else None
        if via not in ("channel", "manual"):
            raise self.refuse(actor, "comms", f"via must be channel or manual, not {via!r}", comm=comm_id)
        if via == "manual" or getattr(notify, channel, None) is None:
            self.record_comms(actor, comm_id, note, "recorded as sent")
            return "recorded as sent"
        facts = incident_facts(self.state, self.clock.now())
        try:
            text = (comm["template"] or comm["summary"]).format(**facts)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            # Only a plan journaled before templates were checked at load gets here.
            text = comm["summary"]
            message = f"template of {comm_id} not filled ({type(exc).__name__}: {exc}); summary sent"
            self._commit(events.COMMS_WARNING, {"comm": comm_id, "channel": channel, "message": message}, SYSTEM)
        subject = f"[{self.state.severity}] {self.plan.runbook['title']} — {comm['summary']} ({self.state.id})"
        result = await send(
            self.config.model if self.config else None,
            channel,
            text,
            subject=subject,
            secret=lambda key: self.resolve_secret(key, f"comms {comm_id}"),
            facts=facts,
        )
        if result.delivered:
            outcome = f"delivered via {channel} to {result.target}"
            self.record_comms(actor, comm_id, note, outcome)
            return outcome
        self._commit(events.COMMS_FAILED, {"comm": comm_id, "channel": channel, "error": result.error}, actor)
        raise ActionError(f"{comm_id}: not delivered via {channel}: {result.error}", title="Message not sent")
