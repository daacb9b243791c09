"""Slack: an incoming webhook, or a bot token with ``chat.postMessage`` (slack_sdk).

The message has the rule, severity, count, first/last seen, a few sample lines and a button to
the dashboard. Untrusted text (log lines, titles, group values) only goes into ``plain_text`` and
preformatted rich-text elements, which Slack shows literally; the notification fallback ``text``
holds no log text and is escaped (``&``, ``<``, ``>``) so nothing in it becomes a mention or link.
With a bot token, repeats and the resolution are posted in the thread of the first message.
Slack has no idempotency support: the ``Idempotency-Key`` header is sent for proxies that have.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.error import URLError

from pydantic import Field, SecretStr, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from core.errors import NotifierError
from core.notifiers.base import Delivery, Message, NotifierOptions, NotifierSecret, http_error, parse_retry_after

PERMANENT_API_ERRORS = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "channel_not_found", "not_in_channel", "is_archived", "missing_scope", "invalid_blocks", "invalid_arguments",
    "msg_too_long", "restricted_action", "team_access_not_granted", "invalid_blocks_format",
}


class SlackOptions(NotifierOptions):
    channel: str | None = Field(None, description="Channel for the bot token (#alerts or C0123).")
    api_base_url: str = Field("https://slack.com/api/", description="Web API base (Enterprise Grid or a proxy).")
    timeout_s: int = Field(15, ge=1, le=120)

    @field_validator("api_base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"  # slack_sdk joins with urljoin


class SlackSecret(NotifierSecret):
    webhook_url: SecretStr | None = Field(None, description="Incoming webhook URL (it is itself the credential).")
    bot_token: SecretStr | None = Field(None, description="Bot token (xoxb-...) with chat:write.")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int) -> dict[str, Any]:
    text = text or " "
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": False}


def render_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.headline, 150)},
        {"type": "section", "text": _plain(message.title, 3000)},
        {"type": "section", "fields": [_plain(f"{k}: {v}", 2000) for k, v in message.facts()[:10]]},
    ]
    lines = message.sample_lines()
    if lines:
        blocks.append({"type": "rich_text", "elements": [
            {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "\n".join(lines)[:3000]}]},
        ]})
    if message.link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": _plain("Open in Loglytics", 75), "url": message.link},
        ]})
    return blocks


class SlackNotifier:
    type: ClassVar[str] = "slack"
    Options: ClassVar[type[NotifierOptions]] = SlackOptions
    Secret: ClassVar[type[NotifierSecret]] = SlackSecret

    def __init__(self, options: SlackOptions, secret: SlackSecret | None):
        self.options = options
        webhook = secret.webhook_url.get_secret_value() if secret and secret.webhook_url else None
        token = secret.bot_token.get_secret_value() if secret and secret.bot_token else None
        if bool(webhook) == bool(token):
            raise ValueError("secret: set exactly one of webhook_url or bot_token")
        if webhook and not webhook.startswith(("https://", "http://")):
            raise ValueError("secret.webhook_url must be an http(s) URL")
        if token and not options.channel:
            raise ValueError("config.channel is required with a bot token")
        self.webhook_url, self.bot_token = webhook, token

    def send(self, message: Message) -> Delivery:
        text = _escape(f"{message.headline}: {message.rule} ({message.count}x)")
        blocks = render_blocks(message)
        headers = {"Idempotency-Key": message.idempotency_key}
        try:
            if self.webhook_url:
                return self._webhook(text, blocks, headers)
            return self._post(message, text, blocks, headers)
        except SlackApiError as exc:
            raise _api_error(exc) from exc
        except (SlackClientError, URLError, OSError) as exc:
            raise NotifierError(f"Slack unreachable: {type(exc).__name__}: {exc}") from exc

    def _webhook(self, text: str, blocks: list[dict[str, Any]], headers: dict[str, str]) -> Delivery:
        # no SDK-level retries: the outbox retries, visibly, with the same idempotency key
        client = WebhookClient(self.webhook_url, timeout=self.options.timeout_s, retry_handlers=[])
        response = client.send(text=text, blocks=blocks, headers=headers)
        if response.status_code != 200:
            retry_after = _header(response.headers, "Retry-After")
            raise http_error("Slack webhook", response.status_code, retry_after=retry_after,
                             detail=str(response.body or ""))
        return Delivery()

    def _post(self, message: Message, text: str, blocks: list[dict[str, Any]], headers: dict[str, str]) -> Delivery:
        client = WebClient(token=self.bot_token, base_url=self.options.api_base_url, timeout=self.options.timeout_s,
                           headers=headers, retry_handlers=[])
        thread = message.thread_ref if message.event in ("repeat", "resolved") else None
        response = client.chat_postMessage(channel=self.options.channel, text=text, blocks=blocks, thread_ts=thread)
        return Delivery(ref=response.get("ts"), details={"channel": response.get("channel")})

    def close(self) -> None:
        pass


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


def _api_error(exc: SlackApiError) -> NotifierError:
    response = exc.response
    status = getattr(response, "status_code", 0) or 0
    code = ""
    try:
        code = response.get("error", "") or ""
    except Exception:  # noqa: BLE001 - a non-JSON body
        code = ""
    retry_after = parse_retry_after(_header(getattr(response, "headers", None), "Retry-After"))
    if status == 429 or code == "ratelimited":
        return NotifierError("Slack rate limit (ratelimited)", retry_after_s=retry_after)
    if status >= 500 or code in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
        return NotifierError(f"Slack API error {status} {code}".strip(), retry_after_s=retry_after)
    return NotifierError(f"Slack API refused the message: {code or status}", permanent=code in PERMANENT_API_ERRORS
                         or 400 <= status < 500)
