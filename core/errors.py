"""Error families of Loglytics Live.

Each SDK's errors are mapped into these at the edge (``raise ... from exc``), so callers
handle one family whatever the provider. Messages are written for operators: they say what
is wrong and what to do, and never carry secrets.
"""


class LoglyticsError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(LoglyticsError):
    """A setting is missing or malformed; the message names the variable and the fix."""


class UsageError(LoglyticsError):
    """The user asked for something invalid (bad argument, unknown name)."""


class NotFoundError(UsageError):
    """A named project, user, connection or rule does not exist (or is not visible)."""


class VaultError(LoglyticsError):
    """A secret could not be encrypted or decrypted (wrong or rotated-out key)."""


class ConnectorError(LoglyticsError):
    """A connector could not fetch; the subclass says why. ``status`` is shown to operators."""

    status = "error"


class AuthError(ConnectorError):
    """Credentials were refused or lack a permission."""


class ThrottledError(ConnectorError):
    """The provider asked us to slow down; ``retry_after_s`` is its hint, if any."""

    status = "throttled"

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnavailableError(ConnectorError):
    """The endpoint could not be reached or answered with a server error."""


class BadConfigError(ConnectorError):
    """The connection's options point at something that does not exist or is invalid."""


class NotifierError(LoglyticsError):
    """A notification could not be delivered; ``retry_after_s`` is the receiver's hint."""

    def __init__(self, message: str, retry_after_s: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.permanent = permanent


class PermissionDenied(LoglyticsError):
    """The acting user's role does not allow this action."""


class AuthenticationFailed(LoglyticsError):
    """Wrong username or password, a disabled account, or a locked one (the message says which it may say)."""
