"""Text normalisation for routing: width folding, traditional to simplified,
typo and homophone repair, and the token filters the router relies on.

Everything here is pure and cheap: the router calls it on every message, so
the traditional-to-simplified step is one ``str.translate`` with a table built
once per process, not a dictionary-driven converter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "ConditionalTypo",
    "Normaliser",
    "blank_stickers",
    "fold",
    "fold_script",
    "nfkc",
    "is_clause_break",
    "is_content",
    "t2s_table",
]

# Characters that end a clause. Negation and time markers never reach across
# them ("他没打我，但是把我锁在屋里": the 没 does not cover 锁).
_CLAUSE_BREAKS = frozenset(
    "，,。.！!？?；;：:、\n\r…~～—–-()（）【】[]「」『』\"'“”‘’《》<>|/\\"
)

# A token is content if it has a CJK ideograph or a Latin letter; numbers,
# emoji, punctuation and whitespace carry nothing the router can use.
_CONTENT_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffa-z]")

# Two or more Latin words separated by spaces: a candidate for pinyin.
_PINYIN_RUN = re.compile(r"\b[a-z]+(?: +[a-z]+)+\b")


# Characters zhconv leaves alone because the right form depends on the word.
# In messages 著 is nearly always the particle (拿著刀 = 拿着刀); 著名 and 著作
# become 着名/着作, which route the same (nothing lists them).
_T2S_EXTRA = {"著": "着", "擡": "抬"}


@lru_cache(maxsize=1)
def t2s_table() -> dict[int, int]:
    """The traditional-to-simplified character table, built once from zhconv."""
    try:
        import zhconv
    except ImportError:  # pragma: no cover - zhconv is a declared dependency
        return {}
    path = Path(zhconv.__file__).with_name("zhcdict.json")
    with open(path, "rb") as fh:
        data = json.loads(fh.read().decode("utf-8"))
    table: dict[int, int] = {}
    # zh2Hans is the generic mapping, zh2CN the mainland overrides on top of it.
    # Only one-to-one character entries are used: they keep the text the same
    # length, so token offsets still point into the original message.
    for name in ("zh2Hans", "zh2CN"):
        for src, dst in data.get(name, {}).items():
            if len(src) == 1 and len(dst) == 1 and src != dst:
                table[ord(src)] = ord(dst)
    for src, dst in _T2S_EXTRA.items():
        table.setdefault(ord(src), ord(dst))
    return table


@lru_cache(maxsize=1)
def _traditional() -> frozenset[str]:
    """Every character the table changes: most messages have none, and asking a
    set is much cheaper than a translate over a large table (or a regular
    expression's class of 4,700 characters, which cost 30 us a message)."""
    return frozenset(map(chr, t2s_table()))


def fold_script(text: str) -> str:
    """Traditional characters to simplified (one to one: offsets keep)."""
    if _traditional().isdisjoint(text):
        return text
    return text.translate(t2s_table())


# A message is folded several times in one delivery (the router, then each word check of
# the dialogue) and most of hers need real NFKC work (full-width punctuation): the last
# few results are kept. Small: only the texts of the deliveries in progress recur.
_RECENT = 32


@lru_cache(maxsize=_RECENT)
def nfkc(text: str) -> str:
    # NFKC folds full-width ASCII and compatibility ideographs; the check is
    # cheap and most messages are already normalised.
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


# WeChat sends its stickers inside a message as words in brackets ("[捂脸]",
# "[偷笑]", "[流汗]"): they are emoji, not her words (捂 is also "smother").
_STICKER_RE = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")


def blank_stickers(text: str) -> str:
    """WeChat's bracketed stickers blanked out (same length: offsets keep)."""
    if "[" not in text:
        return text
    return _STICKER_RE.sub(lambda m: "[" + " " * (len(m.group()) - 2) + "]", text)


@lru_cache(maxsize=_RECENT)
def fold(text: str) -> str:
    """NFKC, traditional to simplified, lower case: the form keywords are matched in."""
    return fold_script(nfkc(text)).lower()


def is_clause_break(token: str) -> bool:
    """True for punctuation that ends a clause."""
    return token in _CLAUSE_BREAKS or (len(token) == 1 and token.isspace())


def is_content(token: str) -> bool:
    """True if the token can carry meaning (not a number, emoji, space or mark)."""
    return _CONTENT_RE.search(token) is not None


@dataclass(frozen=True)
class ConditionalTypo:
    """A correction applied only when one of ``when`` occurs in the same message.

    扶养 is spousal support in law, 抚养 child support; women mix them up, so
    扶养费 becomes 抚养费 only when the message talks about a child.
    """

    to: str
    when: frozenset[str]


@dataclass
class Normaliser:
    """Token-level normalisation configured by the lexicon's normalisation section."""

    typos: Mapping[str, str] = field(default_factory=dict)
    conditional: Mapping[str, ConditionalTypo] = field(default_factory=dict)
    fillers: frozenset[str] = frozenset()
    # Toneless pinyin, syllables separated by spaces, for the few words that
    # must not be missed when she cannot type characters ("bu xiang huo le").
    pinyin: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Keys and targets are folded like the text they are compared with, so
        # a supervisor may write either script in the YAML.
        self.typos = {fold(k): fold(v) for k, v in self.typos.items()}
        self.conditional = {
            fold(k): ConditionalTypo(fold(c.to), frozenset(fold(w) for w in c.when))
            for k, c in self.conditional.items()
        }
        self.fillers = frozenset(fold(f) for f in self.fillers)
        self.pinyin = {" ".join(fold(k).split()): fold(v) for k, v in self.pinyin.items()}
        self._pinyin_span = max((k.count(" ") + 1 for k in self.pinyin), default=0)

    def words(self) -> set[str]:
        """Strings the tokenizer must keep whole so they can be corrected."""
        return set(self.typos) | set(self.conditional) | set(self.typos.values())

    def correct(self, token: str, context: str) -> str:
        """The corrected form of one token; ``context`` is the folded message."""
        fixed = self.typos.get(token)
        if fixed is not None:
            return fixed
        cond = self.conditional.get(token)
        if cond is not None and any(w in context for w in cond.when):
            return cond.to
        return token

    def from_pinyin(self, text: str) -> str:
        """``text`` with listed pinyin phrases written in characters.

        Only runs of at least two space-separated Latin syllables are read
        (a lone "hi" or "ok" is left alone), longest phrase first; syllables
        that start no listed phrase stay as they are.
        """
        if not self.pinyin or _PINYIN_RUN.search(text) is None:
            return text
        return _PINYIN_RUN.sub(self._convert_run, text)

    def _convert_run(self, m: re.Match) -> str:
        sylls = m.group(0).split()
        out: list[str] = []
        i, n = 0, len(sylls)
        while i < n:
            for span in range(min(self._pinyin_span, n - i), 0, -1):
                hanzi = self.pinyin.get(" ".join(sylls[i:i + span]))
                if hanzi is not None:
                    out.append(hanzi)
                    i += span
                    break
            else:
                # Keep a space between Latin words, none next to characters.
                if out and out[-1][-1:].isascii():
                    out.append(" ")
                out.append(sylls[i])
                i += 1
        return "".join(out)

    def is_filler(self, token: str) -> bool:
        """True for voice fillers (那个, 就是, 嗯) that are dropped as tokens."""
        return token in self.fillers

    def normalise_tokens(self, tokens: Iterable[str], context: str = "") -> list[str]:
        """Corrected content tokens with fillers, numbers and symbols removed."""
        out = []
        for tok in tokens:
            if not is_content(tok) or tok in self.fillers:
                continue
            out.append(self.correct(tok, context))
        return out
