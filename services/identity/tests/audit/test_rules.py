"""Secret-like keys in audit details are found in any spelling, at any depth (checklist 47)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora_identity.audit.rules import is_secret_key, redact, secret_keys

# Words that never spell a forbidden one, alone or glued to each other.
SAFE_WORDS = [
    "user", "id", "session", "family", "count", "reason", "ip", "device", "scope",
    "athlete", "coach", "email", "name", "status", "role", "grant", "source", "kind",
    "old", "new", "at", "from", "created", "x",
]  # fmt: skip
SECRET_BASES = [
    ["password"], ["token"], ["secret"], ["authorization"], ["api", "key"],
    ["client", "secret"], ["access", "token"], ["refresh", "token"], ["passwd"],
    ["new", "password"], ["x", "api", "key"], ["id", "token"],
]  # fmt: skip


def _styled(words: list[str], style: str) -> str:
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "pascal":
        return "".join(w.capitalize() for w in words)
    if style == "upper_kebab":
        return "-".join(words).upper()
    if style == "screaming":
        return "_".join(words).upper()
    if style == "spaced":
        return " ".join(w.capitalize() for w in words)
    return "".join(words)  # glued: "accesstoken"


STYLES = ["snake", "kebab", "camel", "pascal", "upper_kebab", "screaming", "spaced", "glued"]

safe_key = st.builds(
    _styled, st.lists(st.sampled_from(SAFE_WORDS), min_size=1, max_size=3), st.sampled_from(STYLES)
)


@st.composite
def secret_key(draw: st.DrawFn) -> str:
    words = list(draw(st.sampled_from(SECRET_BASES)))
    words = draw(st.lists(st.sampled_from(SAFE_WORDS), max_size=1)) + words
    words += draw(st.lists(st.sampled_from(SAFE_WORDS), max_size=1))
    return _styled(words, draw(st.sampled_from(STYLES)))


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
safe_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_key, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def document_with_secret(draw: st.DrawFn) -> tuple[Any, str]:
    """A safe document with one secret-like key buried somewhere, and that key's path."""
    key = draw(secret_key())
    node: Any = {**draw(st.dictionaries(safe_key, safe_json, max_size=2)), key: draw(safe_json)}
    layers: list[str | int] = []  # innermost first
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            name = draw(safe_key)
            siblings = draw(st.dictionaries(safe_key, safe_json, max_size=2))
            siblings.pop(name, None)
            node = {**siblings, name: node}
            layers.append(name)
        else:
            before = draw(st.lists(safe_json, max_size=2))
            after = draw(st.lists(safe_json, max_size=2))
            node = [*before, node, *after]
            layers.append(len(before))
    path = ""
    for layer in [*reversed(layers), key]:
        if isinstance(layer, int):
            path += f"[{layer}]"
        else:
            path = f"{path}.{layer}" if path else layer
    return node, path


@pytest.mark.parametrize(
    "key",
    [
        "password", "Password", "PASSWORD", "accessToken", "refresh_token", "API-KEY",
        "api_key", "apiKey", "ApiKey", "clientSecret", "client-secret", "CLIENT_SECRET",
        "Authorization", "x-authorization", "secret", "token", "id_token", "passwd",
        "\uff30\uff21\uff33\uff33\uff37\uff2f\uff32\uff24", "pass\u200bword",
    ],
)  # fmt: skip
def test_known_spellings_are_secret(key: str) -> None:
    assert is_secret_key(key)
    assert secret_keys({"outer": [{"inner": {key: "x"}}]}) == [f"outer[0].inner.{key}"]


@pytest.mark.parametrize("key", ["session_id", "family_id", "reason", "author", "scopes", "sid"])
def test_neutral_keys_pass(key: str) -> None:
    assert not is_secret_key(key)


def test_values_are_not_keys() -> None:
    assert secret_keys({"note": "password", "list": ["token", {"a": "secret"}]}) == []


def test_every_secret_key_is_reported_in_document_order() -> None:
    details = {"a": {"Password": 1}, "b": [{"x": 1}, {"accessToken": 2}], "clientSecret": 3}
    assert secret_keys(details) == ["a.Password", "b[1].accessToken", "clientSecret"]


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    deep: Any = {"token": 1}
    for _ in range(5_000):  # five times Python's recursion limit
        deep = {"a": [deep]}
    paths = secret_keys(deep)
    assert len(paths) == 1
    assert paths[0].endswith("a[0].token")
    cleaned, removed = redact(deep)
    assert removed == paths
    assert secret_keys(cleaned) == []


@given(safe_json)
def test_safe_documents_pass_and_redaction_leaves_them_alone(doc: Any) -> None:
    assert secret_keys(doc) == []
    assert redact(doc) == (doc, [])


@given(document_with_secret())
def test_a_buried_secret_key_is_found_at_its_path(case: tuple[Any, str]) -> None:
    doc, path = case
    assert secret_keys(doc) == [path]


@given(document_with_secret())
def test_redaction_removes_exactly_the_secret_keys(case: tuple[Any, str]) -> None:
    doc, path = case
    cleaned, removed = redact(doc)
    assert removed == [path]
    assert secret_keys(cleaned) == []
    # Only the secret key went: putting its path back differs from the original by one key.
    assert _without(doc, path) == cleaned


def _without(doc: Any, path: str) -> Any:
    """The document with the key at `path` removed (test oracle, independent of redact)."""
    tokens = re.findall(r"\[(\d+)\]|([^.\[]+)", path)
    steps: list[str | int] = [int(i) if i else name for i, name in tokens]
    if isinstance(doc, dict):
        copy: Any = dict(doc)
    else:
        copy = list(doc)
    node = copy
    for step in steps[:-1]:
        child = node[step]
        child = dict(child) if isinstance(child, dict) else list(child)
        node[step] = child
        node = child
    del node[steps[-1]]
    return copy
