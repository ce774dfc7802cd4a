"""The ``ansible`` step kind (:mod:`.kind`): a playbook or one module run through ansible-runner."""

from actions.ansible.kind import AnsibleAction

__all__ = ["AnsibleAction"]
