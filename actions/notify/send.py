"""Deliver one message to a configured channel: Slack webhook, status-page webhook or SMTP e-mail.

:func:`send` never raises for a delivery problem: a notification that cannot go out must not
stop a rollback, so every failure (refused, non-2xx, SMTP error, timeout, missing secret)
comes back as a :class:`DeliveryResult` with ``delivered=False`` and a one-line reason. Webhook
URLs are secrets: only the channel name and the URL's host are ever shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actions.net_errors import transport_reason
from actions.urls import host_of, is_loopback
from console.model.errors import WarroomError

CHANNELS = ("slack", "statuspage", "email")
TIMEOUT = 10.0
EXCERPT = 100

Secret = Callable[[str], str]


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    delivered: bool
    target: str
    """Where it went, safe to show: the webhook's host, or the SMTP server and recipient count."""
    detail: str = ""
    error: str = ""
    latency_ms: float = 0.0

    def facts(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "channel": self.channel,
            "delivered": self.delivered,
            "target": self.target,
            "latency_ms": self.latency_ms,
        }
        if self.detail:
            data["detail"] = self.detail
        if self.error:
            data["error"] = self.error
        return data


async def send(
    config: Any,
    channel: str,
    text: str,
    *,
    subject: str = "",
    secret: Secret | None = None,
    facts: dict[str, Any] | None = None,
    timeout: float = TIMEOUT,
) -> DeliveryResult:
    """Send ``text`` over ``channel`` of ``config`` (a ``console.model.config.Config``).

    ``secret(key)`` resolves a config key such as ``notify.slack.webhook_url`` (the engine's
    resolver registers the value for redaction); without it the reference is resolved directly.
    ``facts`` (incident id, severity, ...) ride along in the status-page payload.
    """
    config = getattr(config, "model", config)  # a LoadedConfig or the Config model itself
    resolve = secret or _resolver(config)
    notify = getattr(config, "notify", None)
    settings = getattr(notify, channel, None) if channel in CHANNELS else None
    if settings is None:
        known = ", ".join(c for c in CHANNELS if getattr(notify, c, None) is not None) or "none"
        return DeliveryResult(channel, False, "-", error=f"channel {channel!r} is not configured (configured: {known})")
    started = time.monotonic()
    try:
        if channel == "email":
            result = await _email(settings, text, subject, resolve, timeout)
        else:
            key = f"notify.{channel}.{'webhook_url' if channel == 'slack' else 'url'}"
            payload: dict[str, Any] = {"text": text}
            if channel == "slack":
                payload["channel"] = settings.channel
            else:
                payload.update({"subject": subject} if subject else {})
                payload.update({"incident": facts} if facts else {})
            result = await _webhook(channel, key, payload, resolve, timeout)
    except WarroomError as exc:  # a secret that does not resolve: the message names the key only
        result = DeliveryResult(channel, False, "-", error=str(exc))
    return _timed(result, started)


def _timed(result: DeliveryResult, started: float) -> DeliveryResult:
    latency = round((time.monotonic() - started) * 1000, 1)
    return DeliveryResult(result.channel, result.delivered, result.target, result.detail, result.error, latency)


def _resolver(config: Any) -> Secret:
    from console.model.secrets import lookup, resolve_ref

    def resolve(key: str) -> str:
        return resolve_ref(lookup(config, key), where=key)

    return resolve


async def _webhook(channel: str, key: str, payload: dict[str, Any], resolve: Secret, timeout: float) -> DeliveryResult:
    """POST JSON; 2xx is delivered. Redirects are not followed: a webhook that moves is broken."""
    import httpx

    url = resolve(key)
    host = host_of(url)
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client,
            asyncio.timeout(timeout),
        ):
            response = await client.post(url, json=payload)
    except (TimeoutError, httpx.TimeoutException):
        return DeliveryResult(channel, False, host, error=f"{channel} webhook at {host}: no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        reason = _scrub(transport_reason(exc, host), url)
        return DeliveryResult(channel, False, host, error=f"{channel} webhook at {host}: {reason}")
    detail = f"HTTP {response.status_code}"
    if 200 <= response.status_code < 300:
        return DeliveryResult(channel, True, host, detail=detail)
    body = " ".join(response.text[: EXCERPT * 2].split())[:EXCERPT]
    body = _scrub(body, url)
    return DeliveryResult(
        channel, False, host, detail=detail, error=f"{channel} webhook at {host}: {detail}{f': {body}' if body else ''}"
    )


async def _email(settings: Any, text: str, subject: str, resolve: Secret, timeout: float) -> DeliveryResult:
    """smtplib in a thread (it blocks); its own socket timeout bounds every SMTP exchange."""
    target = f"{settings.smtp_host}:{settings.smtp_port} ({len(settings.recipients)} recipients)"
    password = resolve("notify.email.password") if settings.password else ""
    implicit_tls = settings.smtp_port == 465
    if password and not (settings.starttls or implicit_tls) and not is_loopback(settings.smtp_host):
        return DeliveryResult(
            "email", False, target, error=f"SMTP {target}: refusing to send the password without TLS (starttls = false)"
        )
    message = _message(settings, text, subject)
    try:
        reply = await asyncio.wait_for(
            asyncio.to_thread(_smtp_send, settings, message, password, timeout, implicit_tls), timeout * 3
        )
    except TimeoutError:
        return DeliveryResult("email", False, target, error=f"SMTP {target}: no answer within {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - smtplib, ssl and socket errors all mean "not delivered"
        return DeliveryResult("email", False, target, error=f"SMTP {target}: {_scrub(_smtp_reason(exc), password)}")
    return DeliveryResult("email", True, target, detail=reply)


def _message(settings: Any, text: str, subject: str):
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = subject or (text.splitlines() or [""])[0][:78]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(text)
    return message


def _smtp_send(settings: Any, message: Any, password: str, timeout: float, implicit_tls: bool) -> str:
    import smtplib
    import ssl

    context = ssl.create_default_context()
    if implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if settings.starttls and not implicit_tls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username and password:
            smtp.login(settings.username, password)
        refused = smtp.send_message(message, settings.sender, list(settings.recipients))
    accepted = len(settings.recipients) - len(refused)
    if refused:
        return f"accepted for {accepted} of {len(settings.recipients)} recipients; refused: {', '.join(refused)}"
    return f"accepted for {accepted} recipient{'s' if accepted != 1 else ''}"


def _smtp_reason(exc: BaseException) -> str:
    import smtplib

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return f"all recipients refused ({codes})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(value: Any) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())


def _scrub(text: str, secret: str) -> str:
    """Belt and braces: an exception text must not carry the secret it was built from."""
    return text.replace(secret, "<secret>") if secret else text
