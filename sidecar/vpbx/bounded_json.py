"""JSON from strangers (API bodies, customers' webhook and CRM answers), refused
when it nests too deep: json.loads itself raises RecursionError, not
ValueError, near Python's recursion limit, and code walking a deep value
recursively would do the same."""

from __future__ import annotations

import json

# Deeper than anything vpbx takes (a destination in a step in a scheme is 5).
MAX_DEPTH = 32
# What the error says it was parsing: never empty (webargs takes an error on an
# empty document for "no body at all").
TOO_DEEP_DOC = "(nested too deep)"


def depth(value) -> int:
    """How deep a parsed JSON value nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs):
    """json.loads; a value nested deeper than ``max_depth`` is a JSONDecodeError
    (a ValueError), as any other JSON a parser cannot take."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise json.JSONDecodeError(f"JSON nested deeper than {max_depth} levels", TOO_DEEP_DOC, 0) from None
    if depth(value) > max_depth:
        raise json.JSONDecodeError(f"JSON nested deeper than {max_depth} levels", TOO_DEEP_DOC, 0)
    return value
