"""The ``notify`` step kind and the comms plan's delivery (:mod:`.kind`): the engine
sends timed comms through :func:`send`, as a notify step does. :data:`FACTS` and
:func:`incident_facts` live in :mod:`console.model.facts` and are re-exported here."""

from actions.notify.kind import FACTS, DeliveryResult, NotifyAction, incident_facts, send, template_problem

__all__ = ["FACTS", "DeliveryResult", "NotifyAction", "incident_facts", "send", "template_problem"]
