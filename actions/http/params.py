"""The http step's parameters: one typed model, checked at load and again once rendered."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from actions.params import ParamError, StepParams, later, step_timeout
from actions.urls import origin

METHODS = ("GET", "HEAD")
TLS_OFF = ("verify", "insecure", "verify_tls", "tls_verify")


class HttpParams(StepParams):
    url: str = Field("", validate_default=True)
    """Usually a variable (``"{{ health.url }}"``). Required."""
    method: str = "GET"
    expect_status: int = 200
    expect_body: str = ""
    expect_json: dict[str, Any] | None = None
    retry_until: float = 0.0
    timeout: float = 5.0
    """Seconds per request."""
    ca_file: str = ""
    via_ssh: bool | None = None
    """None: through SSH when the URL is on the host's loopback."""

    @model_validator(mode="before")
    @classmethod
    def _tls_stays_on(cls, data: Any) -> Any:
        for key in TLS_OFF:
            if isinstance(data, dict) and key in data:
                raise ParamError(key, "TLS verification is always on; give ca_file to trust a private CA")
        return data

    @field_validator("url")
    @classmethod
    def _given(cls, value: str, info: ValidationInfo) -> str:
        if not value and "url" not in later(info):
            raise ParamError("url", 'missing; give the URL to check, e.g. "{{ health.url }}"')
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ParamError("method", f"{value!r} is not one of {', '.join(METHODS)}")
        return value

    @field_validator("expect_status")
    @classmethod
    def _http_status(cls, value: int) -> int:
        if not 100 <= value <= 599:
            raise ParamError("expect_status", f"{value} is not an HTTP status (100-599)")
        return value

    @field_validator("expect_json")
    @classmethod
    def _some_field(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not value:
            raise ParamError("expect_json", 'give at least one field, e.g. { status = "ok" }')
        return value

    @model_validator(mode="after")
    def _within_the_step(self, info: ValidationInfo) -> HttpParams:
        """The timings, then the URL, after the other values: the order an http step always
        reported them in."""
        timings = {"timeout": self.timeout, "retry_until": self.retry_until}
        if self.timeout <= 0 or self.retry_until < 0:
            raise ParamError("", "params.timeout must be > 0 and params.retry_until >= 0")
        limit = step_timeout(info)
        for name, value in timings.items():
            if limit is not None and value >= limit:
                raise ParamError("", f"params.{name} ({value:g}s) must be shorter than the step timeout ({limit}s)")
        if self.url:
            try:
                origin(self.url)
            except ValueError as exc:
                raise ParamError("url", str(exc)) from None
        return self
