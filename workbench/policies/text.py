"""The compact text form of a policy, e.g. `LINEAR(k0=0.0, k1=0.1, l=500) until 500 | COS(…)`.

Parsed by a small tokenizer (never `eval`): names, numbers, integer lists and the
`until` / `|` separators, nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.policies.policy import Policy, PolicyError, from_spec

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),=\[\]|]))"
)


def _format_value(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "[" + ", ".join(str(int(x)) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def to_text(policy: Policy) -> str:
    """Text form of a policy: stages joined by ' | ', each with ' until N' but the last."""
    parts = []
    for stage in policy.stages:
        spec = stage.policy.to_spec()
        name = spec.pop("function")
        args = ", ".join(f"{k}={_format_value(v)}" for k, v in spec.items())
        part = f"{name}({args})"
        if stage.until is not None:
            part += f" until {stage.until}"
        parts.append(part)
    return " | ".join(parts)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PolicyError("text", text, f"unexpected character at position {pos}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


def _number(tok: str) -> int | float:
    if re.fullmatch(r"[-+]?\d+", tok):
        return int(tok)
    return float(tok)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def fail(self, what: str) -> PolicyError:
        pos = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        return PolicyError("text", self.text, f"{what} at position {pos}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise self.fail(f"expected {value or kind}")
        self.i += 1
        return tok[1]

    def value(self) -> Any:
        tok = self.peek()
        if tok and tok[0] == "num":
            self.i += 1
            return _number(tok[1])
        if tok and tok[1] == "[":
            self.i += 1
            items: list[Any] = []
            while (t := self.peek()) and t[1] != "]":
                items.append(_number(self.take("num")))
                if (t := self.peek()) and t[1] == ",":
                    self.i += 1
            self.take("punct", "]")
            return items
        raise self.fail("expected a number or a list")

    def stage(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"function": self.take("name")}
        self.take("punct", "(")
        while (t := self.peek()) and t[1] != ")":
            key = self.take("name")
            if key in spec:
                raise self.fail(f"parameter {key!r} given twice")
            self.take("punct", "=")
            spec[key] = self.value()
            if (t := self.peek()) and t[1] == ",":
                self.i += 1
        self.take("punct", ")")
        entry: dict[str, Any] = {"policy": spec}
        if (t := self.peek()) and t == ("name", "until", t[2]):
            self.i += 1
            entry["until"] = _number(self.take("num"))
        return entry

    def parse(self) -> dict[str, Any]:
        stages = [self.stage()]
        while (t := self.peek()) and t[1] == "|":
            self.i += 1
            stages.append(self.stage())
        if self.peek() is not None:
            raise self.fail("unexpected text")
        if len(stages) == 1 and "until" not in stages[0]:
            return stages[0]["policy"]
        return {"stages": stages}


def parse_text(text: str) -> dict[str, Any]:
    """The spec written by `text` (not yet validated)."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError("text", text, "an empty policy text")
    return _Parser(text).parse()


def from_text(text: str) -> Policy:
    """Build a policy from its text form; raises PolicyError if invalid."""
    return from_spec(parse_text(text))
