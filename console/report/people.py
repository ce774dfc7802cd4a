"""Who drove and who watched: seat changes, presence, and the roles records were written with.

Older journals have no presence events (``presence.joined`` / ``presence.left``); an observer is
then known only by what they tried: every record written with the ``observer`` role names one.
"""

from __future__ import annotations

from typing import Any

from console.report.times import Moments

SEAT = ("seat.taken", "seat.released", "seat.handed_over", "seat.requested")
NOT_DRIVING = ("command.refused", "seat.requested", "presence.joined", "presence.left")


def people_section(records: list[dict[str, Any]], at: Moments) -> dict[str, Any]:
    drivers: list[str] = []
    watchers: list[str] = []
    for record in records:
        if record["type"] in ("seat.taken", "seat.handed_over"):
            _add(drivers, record["data"].get("to"))
        elif record["role"] == "driver" and record["type"] not in NOT_DRIVING:
            _add(drivers, record["actor"])
        if record["role"] == "observer" or record["type"] == "presence.joined":
            _add(watchers, record["actor"])
    return {
        "drivers": drivers,
        "observers": [w for w in watchers if w not in drivers],
        "seat_changes": [_seat(r, at) for r in records if r["type"] in SEAT],
        "presence": _presence(records, at),
    }


def _add(names: list[str], name: Any) -> None:
    if isinstance(name, str) and name and name not in names:
        names.append(name)


def _seat(record: dict[str, Any], at: Moments) -> dict[str, Any]:
    data = record["data"]
    kind = record["type"].split(".", 1)[1]
    before, after = data.get("from") or "", data.get("to") or ""
    if kind == "requested":
        before, after = data.get("driver") or "", data.get("by") or record["actor"]
    text = {
        "taken": f"{after} took the driver seat",
        "released": f"{before} released the driver seat",
        "handed_over": f"{before} handed the driver seat to {after}",
        "requested": f"{after} asked {before or 'the driver'} for the driver seat",
    }[kind]
    if kind == "released" and record["role"] == "system":
        text = f"the seat was taken back from {before}" + (f": {data['reason']}" if data.get("reason") else "")
    return {"at": record["ts"], "t": at.t(record["ts"]), "by": record["actor"], "change": kind} | {
        "from": before,
        "to": after,
        "text": text,
    }


def _presence(records: list[dict[str, Any]], at: Moments) -> list[dict[str, Any]]:
    via: dict[str, str] = {}
    found = []
    for record in records:
        if record["type"] not in ("presence.joined", "presence.left"):
            continue
        connection = str(record["data"].get("connection", ""))
        if record["type"] == "presence.joined":
            via[connection] = str(record["data"].get("via", ""))
        event = record["type"].split(".", 1)[1]
        found.append({"at": record["ts"], "t": at.t(record["ts"]), "name": record["actor"], "role": record["role"]})
        found[-1] |= {"event": event, "via": via.get(connection, "")}
    return found
