"""The normalizer: pure functions from a provider's RawEvent to a storable LogEvent.

One job per module: ``text`` repairs and caps message text, ``timestamps`` checks event times,
``names`` maps level names and numbers onto core.levels, ``text_levels`` reads the level a line
of text names, ``levels`` puts hint, fields and text together, ``structured`` handles JSON
payloads, attributes and trace ids, and ``normalizer`` composes them into ``normalize``.
"""

from core.normalize.levels import detect_level
from core.normalize.normalizer import DEFAULT_MAX_MESSAGE_BYTES, normalize

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "detect_level", "normalize"]
