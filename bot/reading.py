"""How the router reads a sentence beside the lexicon: the function words and
patterns of bot/data/reading.yaml (clauses and their time, where she is, who is
hurt), read once at start-up into named fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

DEFAULT_READING = Path(__file__).resolve().parent / "data" / "reading.yaml"


class ReadingError(ValueError):
    """A reading file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Patterns:
    """The regular expressions on the folded text (see reading.yaml)."""

    child_age: re.Pattern
    self_age: re.Pattern
    self_school: re.Pattern
    other_age: re.Pattern
    age_of_child: re.Pattern
    grown_child: re.Pattern
    married_child: re.Pattern
    threat_by_him: re.Pattern
    own_intent: re.Pattern
    parent_hits: re.Pattern
    old_parent: re.Pattern
    occasion: re.Pattern
    child_agent: re.Pattern


@dataclass(frozen=True)
class Reading:
    laugh_emoji: frozenset[str]
    laugh_word: str
    ago: str
    ago_units: frozenset[str]
    particles: frozenset[str]
    thanks: tuple[str, ...]
    then: str
    then_reach: int
    question_ends: tuple[str, ...]
    at: str
    no_subject: frozenset[str]
    third_person: frozenset[str]
    adult_age: int
    numerals: dict[str, int]
    ten: str
    observer_verbs: tuple[str, ...]
    fear_words: tuple[str, ...]
    witness_verbs: tuple[str, ...]
    witness_reach: int
    agent_acts: tuple[str, ...]
    agent_partner: str
    grandchildren: tuple[str, ...]
    always_young: tuple[str, ...]
    occasion_hints: tuple[str, ...]
    patterns: Patterns

    @classmethod
    def load(cls, path: str | Path = DEFAULT_READING) -> Reading:
        """Read and check a reading file; raises ReadingError naming the key."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ReadingError(f"{path}: cannot read: {exc}") from exc
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: object, source: str = "<reading>") -> Reading:
        """Build a Reading from parsed YAML; raises ReadingError naming the key."""
        if not isinstance(data, dict):
            raise ReadingError(f"{source}: expected a mapping of names to words")
        wanted = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(wanted)
        missing = set(wanted) - set(data)
        if unknown or missing:
            raise ReadingError(f"{source}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        values: dict[str, object] = {}
        for name, kind in wanted.items():
            raw = data[name]
            where = f"{source}: {name}"
            if name == "patterns":
                values[name] = _patterns(raw, where)
            elif kind == "int":
                if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                    raise ReadingError(f"{where}: expected a whole number, got {raw!r}")
                values[name] = raw
            elif kind == "str":
                if not isinstance(raw, str) or not raw:
                    raise ReadingError(f"{where}: expected a word, got {raw!r}")
                values[name] = raw
            elif kind == "dict[str, int]":
                if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
                    raise ReadingError(f"{where}: expected numerals and their values")
                values[name] = {str(k): v for k, v in raw.items()}
            else:
                if not isinstance(raw, list) or not raw or not all(isinstance(w, str) and w for w in raw):
                    raise ReadingError(f"{where}: expected a list of words")
                values[name] = frozenset(raw) if kind.startswith("frozenset") else tuple(raw)
        return cls(**values)


def _patterns(raw: object, where: str) -> Patterns:
    if not isinstance(raw, dict) or "age" not in raw:
        raise ReadingError(f"{where}: expected a mapping with an `age` pattern")
    age = raw["age"]
    wanted = {f.name for f in fields(Patterns)}
    unknown = set(raw) - wanted - {"age"}
    missing = wanted - set(raw)
    if unknown or missing:
        raise ReadingError(f"{where}: unknown patterns {sorted(unknown)}, missing patterns {sorted(missing)}")
    compiled = {}
    for name in sorted(wanted):
        spec = raw[name]
        alternatives = spec if isinstance(spec, list) else [spec]
        if not alternatives or not all(isinstance(p, str) and p for p in alternatives):
            raise ReadingError(f"{where}.{name}: expected a pattern or a list of patterns")
        try:
            compiled[name] = re.compile("|".join(p.replace("{age}", age) for p in alternatives))
        except re.error as exc:
            raise ReadingError(f"{where}.{name}: not a valid pattern: {exc}") from exc
    return Patterns(**compiled)


READING = Reading.load()
