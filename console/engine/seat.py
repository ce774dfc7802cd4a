"""The driver seat and presence: who drives, who asked to, who is connected."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from console.engine.actor import SYSTEM, Actor, Role
from console.engine.core import EngineCore
from console.model import events, rules


class SeatMixin(EngineCore):
    """Exactly one driver at a time; everybody else watches (and may ask for the seat)."""

    def take_seat(self, actor: Actor) -> None:
        self._require(actor, "take-seat")
        if self.state.driver == actor.name:
            raise self.refuse(actor, "take-seat", f"{actor.name} already drives")
        if self.state.driver is not None:
            raise self.refuse(actor, "take-seat", f"the seat is held by {self.state.driver}; ask for a hand-over")
        self._commit(events.SEAT_TAKEN, {"from": None, "to": actor.name}, actor)

    def release_seat(self, actor: Actor) -> None:
        self._require(actor, "release-seat")
        self._commit(events.SEAT_RELEASED, {"from": actor.name, "to": None}, actor)

    def request_seat(self, actor: Actor) -> None:
        """Take a free seat, or ask the driver for it (the driver hands it over, or not)."""
        self._require(actor, "request-seat")
        if self.state.driver is None:
            self.take_seat(actor)
            return
        if self.state.driver == actor.name:
            raise self.refuse(actor, "request-seat", f"{actor.name} already drives")
        self._commit(events.SEAT_REQUESTED, {"by": actor.name, "driver": self.state.driver}, actor)

    def drop_seat(self, reason: str) -> None:
        """The engine takes the seat back (the driver disconnected and did not return in time)."""
        if self.state.driver is not None and self.state.status == "open":
            self._commit(events.SEAT_RELEASED, {"from": self.state.driver, "to": None, "reason": reason}, SYSTEM)

    def join(self, actor: Actor, via: str) -> str:
        """Someone started watching or driving: journaled presence, shown to everyone."""
        connection = secrets.token_hex(4)
        if actor.role in ("driver", "observer"):
            self.users.setdefault(actor.name, actor.role)
        self._commit(events.PRESENCE_JOINED, {"connection": connection, "via": via}, actor)
        return connection

    def leave(self, actor: Actor, connection: str) -> None:
        if connection in self.state.presence:
            self._commit(events.PRESENCE_LEFT, {"connection": connection}, actor)

    def hand_over(self, actor: Actor, to: Actor) -> None:
        self._require(actor, "hand-over", to=to.name)
        reason = rules.hand_over_refusal(actor.name, to.name, to.role)
        if reason:
            raise self.refuse(actor, "hand-over", reason, to=to.name)
        self._commit(events.SEAT_HANDED_OVER, {"from": actor.name, "to": to.name}, actor)

    def admit(self, users: Mapping[str, Role], opener: Actor) -> None:
        """Who may be handed the seat: the config's server users and whoever serves the incident
        (a driver, unless the config names them), whether or not SSH is served."""
        self.users.update(users)
        self.users.setdefault(opener.name, "driver")
