"""A JSON output's text, as `json.dumps(data, ensure_ascii=False, indent=2)` writes it, made faster.

The standard library indents in Python, a generator call per value (for `historique`'s 21 000
conventions' entries, most of the JSON's cost). Here Python's encoder in C writes every value
(floats by `repr`, strings and their escapes: the same bytes) and msgspec lays that text out on
lines, two spaces a level, as the standard library does (tested on every kind of value). What
msgspec cannot lay out — NaN or Infinity, which Python writes and JSON has not; a lone surrogate —
is left to the standard library: the same text, or the same error, as before."""

from __future__ import annotations

import json
from typing import Any


def indented(data: Any) -> str:
    import msgspec

    try:
        return msgspec.json.format(json.dumps(data, ensure_ascii=False), indent=2)
    except (msgspec.DecodeError, UnicodeEncodeError):
        return json.dumps(data, ensure_ascii=False, indent=2)
