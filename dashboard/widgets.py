"""Small shared pieces of UI: level colours and names, time formatting, empty states."""

from __future__ import annotations

import pandas as pd

from core import levels

LEVEL_COLOURS = {
    levels.TRACE: "#9e9e9e", levels.DEBUG: "#9e9e9e", levels.INFO: "#1f77b4", levels.NOTICE: "#17becf",
    levels.WARNING: "#ff9800", levels.ERROR: "#e53935", levels.CRITICAL: "#b71c1c", levels.ALERT: "#880e4f",
    levels.EMERGENCY: "#4a0072",
}
LEVEL_CHOICES = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"]


def level_style(name: str) -> str:
    value = levels.BY_NAME.get(name)
    colour = LEVEL_COLOURS.get(value)
    return f"color: {colour}; font-weight: 600" if colour else ""


def styled_levels(frame: pd.DataFrame, column: str = "level"):
    """A Styler that colours the level column; cell text stays plain text."""
    return frame.style.map(level_style, subset=[column])
