"""The ``notify`` step kind and the comms plan's delivery (:mod:`.kind`): the engine
sends timed comms through :func:`send` with :func:`incident_facts`, as a notify step does."""

from actions.notify.kind import FACTS, DeliveryResult, NotifyAction, incident_facts, send, template_problem

__all__ = ["FACTS", "DeliveryResult", "NotifyAction", "incident_facts", "send", "template_problem"]
