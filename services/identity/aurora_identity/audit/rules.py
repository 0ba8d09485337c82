"""Which audit details are refused: anything keyed like a credential, at any depth.

A key is compared in a normalised form (Unicode NFKC, case-folded, every character
that is not a letter or digit removed), and refused when that form *contains* one
of the forbidden words. So "accessToken", "API-KEY", "client_secret", "Password",
"x-authorization" and a full-width "PASSWORD" are all caught; so is "token_count", which
is the price of not letting a spelling variant slip through. Details should name
what happened with neutral words ("session_id", "family_id"), never credentials.

The walk is iterative, so a hostile, deeply nested document cannot exhaust the
Python stack.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

FORBIDDEN = ("password", "passwd", "token", "secret", "authorization", "apikey", "clientsecret")


def normalise_key(key: object) -> str:
    text = unicodedata.normalize("NFKC", str(key)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def is_secret_key(key: object) -> bool:
    form = normalise_key(key)
    return any(word in form for word in FORBIDDEN)


# A path is kept as a linked list of steps (parent, step), rendered only for the keys
# reported: building strings level by level would be quadratic in the depth.
Path = tuple["Path", str | int] | None


def render(path: Path) -> str:
    steps: list[str | int] = []
    while path is not None:
        path, step = path
        steps.append(step)
    text = ""
    for step in reversed(steps):
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text = f"{text}.{step}" if text else step
    return text


def _children(node: object, path: Path) -> list[tuple[Path, object, bool]]:
    if isinstance(node, Mapping):
        return [((path, str(key)), value, is_secret_key(key)) for key, value in node.items()]
    if isinstance(node, list | tuple):
        return [((path, i), value, False) for i, value in enumerate(node)]
    return []


def secret_keys(details: object) -> list[str]:
    """Paths of every secret-like key ("a.b[2].accessToken"), in document order."""
    found: list[str] = []
    stack: list[tuple[Path, object, bool]] = [(None, details, False)]
    while stack:
        path, node, secret = stack.pop()
        if secret:
            found.append(render(path))
        stack.extend(reversed(_children(node, path)))
    return found


def redact(details: object) -> tuple[Any, list[str]]:
    """A copy without the secret-like keys (their values dropped), and the paths removed.

    For details that arrive from other services: the event is still worth keeping,
    its credentials are not.
    """
    removed: list[str] = []
    root: list[Any] = [None]
    # Each work item: (source node, its path, container to write into, slot in it).
    stack: list[tuple[object, Path, Any, Any]] = [(details, None, root, 0)]
    while stack:
        node, path, parent, slot = stack.pop()
        if isinstance(node, Mapping):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, value in node.items():
                child: Path = (path, str(key))
                if is_secret_key(key):
                    removed.append(render(child))
                    continue
                copy[str(key)] = None
                stack.append((value, child, copy, str(key)))
        elif isinstance(node, list | tuple):
            items: list[Any] = [None] * len(node)
            parent[slot] = items
            for i, value in enumerate(node):
                stack.append((value, (path, i), items, i))
        else:
            parent[slot] = node
    return root[0], sorted(removed)
