"""Jira over its REST API v2 with plain ``requests``: one issue per alert, a comment on repeats and on resolution.

The first delivery of an alert creates the issue (``POST /rest/api/2/issue``); its key becomes
the delivery's ``ref``, and later deliveries comment on it (``POST /rest/api/2/issue/{key}/comment``).
Idempotency is real here: the issue carries a label derived from the alert, and each comment a
marker with its idempotency key, so when a previous attempt's outcome is unknown (a worker died
waiting for the answer) the notifier looks for them before writing again.
Log text (titles, groups, sample lines) goes inside ``{noformat}`` blocks, so Jira's wiki markup never
interprets it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr, field_validator

from core.errors import NotifierError
from core.notifiers.base import Delivery, Message, NotifierOptions, NotifierSecret, fmt_time, http_error

_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
_LABEL = re.compile(r"[^A-Za-z0-9_.\-]")


class JiraOptions(NotifierOptions):
    base_url: str = Field(description="e.g. https://example.atlassian.net")
    project_key: str = Field(description="Project for new issues, e.g. OPS.")
    issue_type: str = Field("Bug", min_length=1)
    username: str | None = Field(None, description="Account email (Jira Cloud basic auth); unset = bearer token (PAT).")
    labels: list[str] = Field(default_factory=lambda: ["loglytics"], max_length=10)
    timeout_s: float = Field(15.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("project_key")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("must be a Jira project key such as OPS")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, values: list[str]) -> list[str]:
        return [_LABEL.sub("-", v)[:100] for v in values if v]


class JiraSecret(NotifierSecret):
    api_token: SecretStr = Field(description="API token (Cloud) or personal access token (Data Center).")


def delivery_label(message: Message) -> str:
    """The issue's label naming the delivery that created it: a retry of that delivery finds it."""
    return _LABEL.sub("-", message.idempotency_key)[:100]


def noformat(text: str) -> str:
    return "{noformat}\n" + text.replace("{noformat}", "{ noformat}") + "\n{noformat}"


def description(message: Message) -> str:
    """Everything that may hold log text (title, group, samples) sits in noformat blocks: shown as typed."""
    summary = "\n".join([message.title, "", *(f"{k}: {v}" for k, v in message.facts())])
    parts = [noformat(summary)]
    lines = message.sample_lines()
    if lines:
        parts += ["Sample lines:", noformat("\n".join(lines))]
    if message.link:
        parts.append(f"[Open in Loglytics|{message.link}]")
    return "\n".join(parts)


def comment(message: Message) -> str:
    head = {"repeat": f"Still firing: {message.count} occurrences, last seen {fmt_time(message.last_seen)}",
            "resolved": "Resolved.", "fired": "Fired again."}.get(message.event, message.event)
    return f"{head}\n\n{description(message)}\n\n[loglytics:{message.idempotency_key}]"


class JiraNotifier:
    type: ClassVar[str] = "jira"
    Options: ClassVar[type[NotifierOptions]] = JiraOptions
    Secret: ClassVar[type[NotifierSecret]] = JiraSecret

    def __init__(self, options: JiraOptions, secret: JiraSecret | None):
        if secret is None or not secret.api_token.get_secret_value():
            raise ValueError("secret.api_token is required")
        self.options = options
        self.http = requests.Session()
        token = secret.api_token.get_secret_value()
        if options.username:
            self.http.auth = (options.username, token)
        else:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["Accept"] = "application/json"

    def send(self, message: Message) -> Delivery:
        key = message.thread_ref
        if message.event in ("fired", "test") or not key:
            return self._create(message)
        if message.uncertain and self._has_comment(key, message.idempotency_key):
            return Delivery(ref=key, details={"deduplicated": True})
        self._call("POST", f"/rest/api/2/issue/{key}/comment", json={"body": comment(message)})
        return Delivery(ref=key)

    def _create(self, message: Message) -> Delivery:
        label = delivery_label(message)
        if message.uncertain:
            found = self._call("GET", "/rest/api/2/search",
                               params={"jql": f'labels = "{label}"', "fields": "key", "maxResults": 1})
            issues = found.get("issues") or []
            if issues:
                return Delivery(ref=issues[0]["key"], details={"deduplicated": True})
        fields = {
            "project": {"key": self.options.project_key},
            "summary": f"{message.headline}: {message.title}".replace("\n", " ")[:250],
            "description": description(message),
            "issuetype": {"name": self.options.issue_type},
            "labels": [*self.options.labels, label],
        }
        created = self._call("POST", "/rest/api/2/issue", json={"fields": fields})
        if not created.get("key"):
            raise NotifierError("Jira created an issue but returned no key")
        return Delivery(ref=created["key"], details={"id": created.get("id")})

    def _has_comment(self, key: str, idempotency_key: str) -> bool:
        marker = f"[loglytics:{idempotency_key}]"
        start = 0
        while True:
            page = self._call("GET", f"/rest/api/2/issue/{key}/comment", params={"startAt": start, "maxResults": 100})
            comments = page.get("comments") or []
            if any(marker in (c.get("body") or "") for c in comments):
                return True
            start += len(comments)
            if not comments or start >= int(page.get("total", 0)):
                return False

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, self.options.base_url + path, timeout=self.options.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise NotifierError(f"Jira unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise http_error(f"Jira {method} {path.split('?')[0]}", response.status_code,
                             retry_after=response.headers.get("Retry-After"), detail=_errors(response))
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            return {}

    def close(self) -> None:
        self.http.close()


def _errors(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    messages = list(body.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return "; ".join(messages)[:200]
