"""In-app: the inbox. Every alert already is in the inbox (the ``alerts`` table, read/unread per
alert); an ``inapp`` channel only makes that delivery explicit and visible per rule. Sending it
has no outside effect, so it never fails."""

from __future__ import annotations

from typing import ClassVar

from core.notifiers.base import Delivery, Message, NotifierOptions, NotifierSecret


class InAppOptions(NotifierOptions):
    pass


class InAppSecret(NotifierSecret):
    pass


class InAppNotifier:
    type: ClassVar[str] = "inapp"
    Options: ClassVar[type[NotifierOptions]] = InAppOptions
    Secret: ClassVar[type[NotifierSecret]] = InAppSecret

    def __init__(self, options: InAppOptions, secret: InAppSecret | None = None):
        self.options = options

    def send(self, message: Message) -> Delivery:
        return Delivery(details={"inbox": True})

    def close(self) -> None:
        pass
