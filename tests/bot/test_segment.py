"""The fused segmenter gives exactly what jieba's own cut(HMM=False) gives."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bot.routing import DEFAULT_LEXICON, DEFAULT_USERDICT, Router
from bot.text import fold

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"


def test_fast_cut_matches_jieba_on_the_corpora_and_on_noise():
    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, learned=None)
    state = router._state
    texts = ["", " ", "a", "abc 123 de-f_g.h 你好hpv疫苗\r\n测试  x", "2024年3月5日下午3点", "😂😂他打我"]
    for name in ("dev", "tune2"):
        path = CORPUS / f"{name}.jsonl"
        if path.is_file():
            texts += [fold(json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(7)
    chars = "".join(texts[:200])
    texts += ["".join(rng.choice(chars) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    for text in texts:
        assert list(state.cut(text)) == list(state.tokenizer.cut(text, HMM=False)), text
