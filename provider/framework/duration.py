"""Go-style durations ("30m", "1h30m", "90s"), as Terraform timeouts blocks use."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises DurationError with a message a user can act on."""
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise DurationError(f'{text!r} is not a duration such as "30s", "10m" or "1h30m"')
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if secs or not text:
        text += f"{secs}s" if seconds == whole else f"{seconds - 3600 * hours - 60 * minutes:g}s"
    return text
