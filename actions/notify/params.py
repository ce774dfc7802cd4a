"""The notify step's parameters: one typed model; a template is checked against the incident's facts."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from actions.notify.send import CHANNELS
from actions.params import ParamError, StepParams, later, rendered, step_timeout
from console.model.templates import template_problem


class NotifyParams(StepParams):
    channel: str | None = Field(None, validate_default=True)
    """A channel of the config's ``[notify]``."""
    template: str | None = Field(None, validate_default=True)
    """``str.format`` text filled with :data:`FACTS`."""
    subject: str = ""
    """The e-mail's subject (a template too)."""
    timeout: float = 10.0
    """Seconds for the delivery."""

    @field_validator("channel", mode="before")
    @classmethod
    def _configured_channel(cls, value: Any) -> Any:
        if value not in CHANNELS:
            raise ParamError("channel", f"give one of {', '.join(CHANNELS)} (got {value!r})")
        return value

    @field_validator("template", "subject", mode="before")
    @classmethod
    def _fillable(cls, value: Any, info: ValidationInfo) -> Any:
        name = str(info.field_name)
        if not isinstance(value, str) or (name == "template" and not value.strip()):
            raise ParamError(name, "expected a text")
        # Once rendered, a placeholder may have put braces in: the step then sends it as written.
        problem = None if rendered(info) else template_problem(value)
        if problem:
            raise ParamError(name, problem)
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _within_the_step(cls, value: Any, info: ValidationInfo) -> Any:
        limit = step_timeout(info)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (limit and value >= limit):
            raise ParamError("timeout", f"seconds, > 0 and shorter than the step timeout ({limit}s)")
        return float(value)

    @model_validator(mode="after")
    def _subject_for_email(self, info: ValidationInfo) -> NotifyParams:
        if ("subject" in self.model_fields_set or "subject" in later(info)) and self.channel != "email":
            raise ParamError("", "params.subject is for the email channel only")
        return self
