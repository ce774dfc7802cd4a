"""Who drove and who watched: seat changes, presence, and the roles records were written with.

Only someone who held the driver seat drove (whoever opened the incident or served it did not,
unless they took the seat). Who watched is who the header counted as watching
(:func:`console.model.rules.watching`) at any moment of the journal, folded record by record.
Older journals have no presence events (``presence.joined`` / ``presence.left``); an observer is
then known only by what they tried: every record written with the ``observer`` role names one.
"""

from __future__ import annotations

from typing import Any

from console.model import events, rules
from console.model.state import IncidentState, apply
from console.report.times import Moments

SEAT_CHANGE = {
    events.SEAT_TAKEN: "taken",
    events.SEAT_RELEASED: "released",
    events.SEAT_HANDED_OVER: "handed_over",
    events.SEAT_REQUESTED: "requested",
}
"""How the report names each seat change (its ``change``)."""
PRESENCE_EVENT = {events.PRESENCE_JOINED: "joined", events.PRESENCE_LEFT: "left"}
"""How the report names each presence event (its ``event``)."""
SEATING = (*events.SEAT_CHANGES, *events.PRESENCE, events.INCIDENT_RESUMED, events.INCIDENT_CLOSED)
"""The records that change who drives or who is attached (the rest are not folded here)."""


def people_section(records: list[dict[str, Any]], at: Moments) -> dict[str, Any]:
    drivers: list[str] = []
    watchers: list[str] = []
    seating = IncidentState()
    for record in records:
        if record["type"] in SEATING:
            apply(seating, record)
        if record["type"] in (events.SEAT_TAKEN, events.SEAT_HANDED_OVER):
            _add(drivers, record["data"].get("to"))
        if record["role"] == "observer" and record["actor"] != seating.driver:
            _add(watchers, record["actor"])
        if seating.status != "closed":  # the last driver, still attached to the closed incident, did not watch
            for name in rules.watching(seating):
                _add(watchers, name)
    return {
        "drivers": drivers,
        "observers": watchers,
        "seat_changes": [_seat(r, at) for r in records if r["type"] in events.SEAT_CHANGES],
        "presence": _presence(records, at),
    }


def _add(names: list[str], name: Any) -> None:
    if isinstance(name, str) and name and name not in names:
        names.append(name)


def _seat(record: dict[str, Any], at: Moments) -> dict[str, Any]:
    data = record["data"]
    type_ = record["type"]
    before, after = data.get("from") or "", data.get("to") or ""
    if type_ == events.SEAT_REQUESTED:
        before, after = data.get("driver") or "", data.get("by") or record["actor"]
    text = {
        events.SEAT_TAKEN: f"{after} took the driver seat",
        events.SEAT_RELEASED: f"{before} released the driver seat",
        events.SEAT_HANDED_OVER: f"{before} handed the driver seat to {after}",
        events.SEAT_REQUESTED: f"{after} asked {before or 'the driver'} for the driver seat",
    }[type_]
    if type_ == events.SEAT_RELEASED and record["role"] == "system":
        text = f"the seat was taken back from {before}" + (f": {data['reason']}" if data.get("reason") else "")
    return {"at": record["ts"], "t": at.t(record["ts"]), "by": record["actor"], "change": SEAT_CHANGE[type_]} | {
        "from": before,
        "to": after,
        "text": text,
    }


def _presence(records: list[dict[str, Any]], at: Moments) -> list[dict[str, Any]]:
    via: dict[str, str] = {}
    found = []
    for record in records:
        if record["type"] not in events.PRESENCE:
            continue
        connection = str(record["data"].get("connection", ""))
        if record["type"] == events.PRESENCE_JOINED:
            via[connection] = str(record["data"].get("via", ""))
        found.append({"at": record["ts"], "t": at.t(record["ts"]), "name": record["actor"], "role": record["role"]})
        found[-1] |= {"event": PRESENCE_EVENT[record["type"]], "via": via.get(connection, "")}
    return found
