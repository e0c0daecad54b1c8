"""jieba's precise mode without HMM, in one pass per block.

``jieba.Tokenizer.cut(text, HMM=False)`` builds a DAG of dictionary words,
then a second pass takes a logarithm for every edge and keeps the best route.
The router cuts every message, so this module does the same thing fused into
one backward pass, with each word's log-probability computed once and kept:
the same words come out (ties broken the same way, the same floating-point
sums), in less time (bench/micro.py; the figure: see bench/README.md). Built after every ``add_word``: it reads the
tokenizer's dictionary and total as they are then.

``new_tokenizer`` builds the Router's jieba tokenizer, the lexicon's words kept whole.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from math import log

__all__ = ["FastCut", "new_tokenizer"]

# jieba's own patterns (jieba/__init__.py): runs of these are cut with the
# dictionary; everything else goes out a character (or a line break) at a time.
_RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_RE_SKIP = re.compile("(\r\n|\\s)", re.U)
_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class FastCut:
    """``cut(text)`` yields what ``tokenizer.cut(text, HMM=False)`` yields."""

    def __init__(self, tokenizer) -> None:
        tokenizer.check_initialized()
        self._freq = tokenizer.FREQ
        self._logtotal = log(tokenizer.total)
        self._logp: dict[str, float] = {}  # filled as words are met

    def cut(self, sentence: str) -> Iterator[str]:
        for blk in _RE_HAN.split(sentence):
            if not blk:
                continue
            if _RE_HAN.match(blk):
                yield from self._cut_block(blk)
            else:
                for x in _RE_SKIP.split(blk):
                    if _RE_SKIP.match(x):
                        yield x
                    else:
                        yield from x

    def _cut_block(self, s: str) -> list[str]:
        freq = self._freq
        logp = self._logp
        logtotal = self._logtotal
        n = len(s)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for idx in range(n - 1, -1, -1):
            best = None
            best_x = idx
            i = idx
            frag = s[idx]
            f = freq.get(frag)
            while f is not None:
                if f:
                    lp = logp.get(frag)
                    if lp is None:
                        lp = logp[frag] = log(f) - logtotal
                    sc = lp + score[i + 1]
                    # max() over (score, x): a tie goes to the longer word.
                    if best is None or sc > best or (sc == best and i > best_x):
                        best, best_x = sc, i
                i += 1
                if i >= n:
                    break
                frag = s[idx:i + 1]
                f = freq.get(frag)
            if best is None:
                # Not a word: the character alone (log 1 - log total).
                best = log(freq.get(s[idx]) or 1) - logtotal + score[idx + 1]
                best_x = idx
            score[idx] = best
            end[idx] = best_x
        out: list[str] = []
        buf = ""
        x = 0
        while x < n:
            y = end[x] + 1
            word = s[x:y]
            if y - x == 1 and word in _ENG:
                buf += word  # runs of single Latin letters and digits stay together
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)
        return out


# Added words get this many times the least frequency that keeps them whole.
_FREQ_MARGIN = 3


_tokenizer_lock = threading.Lock()


def new_tokenizer(userdict: Path | None, words: Iterable[str], pivots: set[str]):
    """A jieba tokenizer from jieba's own cache, with the domain words added."""
    import jieba

    # jieba logs its start-up to stderr at DEBUG; that is noise in a CLI.
    logging.getLogger("jieba").setLevel(logging.WARNING)
    with _tokenizer_lock:
        tk = jieba.Tokenizer()
        tk.initialize()
        if userdict is not None:
            tk.load_userdict(str(userdict))
        adding = []
        for word in sorted(words):
            if tk.FREQ.get(word, 0) > 0:
                continue  # jieba or the user dictionary already keeps it whole
            pieces = tk.lcut(word, HMM=False)
            if len(pieces) > 1 and any(p in pivots for p in pieces):
                continue  # matched as a run of tokens (see Lexicon.pivot_words)
            # suggest_freq gives the least frequency that keeps the word whole
            # on its own; the margin keeps it whole next to most neighbours.
            adding.append((word, max(tk.suggest_freq(word, False) * _FREQ_MARGIN, 10)))
        for word, freq in adding:
            tk.add_word(word, freq)
    return tk
