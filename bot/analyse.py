"""Stages one to three of routing: fold the text, cut it into words with the
lexicon's words kept whole, split it into clauses and find the longest runs of
tokens that are lexicon words (bot/clauses.py then reads their context).

Keywords are matched on whole tokens, or on runs of whole tokens, never on raw
substrings: 打 inside 打工 or 打官司 is not violence."""

from __future__ import annotations

from .clauses import mark_time_and_negation
from .lexicon import CUE, KW, M_NEG, M_PAST, OTH, ROLE_NAMES, URG
from .reading import READING
from .stages import Analysis, Match, RouterState
from .text import blank_stickers, fold_script, is_clause_break, is_content, nfkc

# The longest run of tokens joined to look a keyword up. Most keywords are added
# to the tokenizer's dictionary and come out as one token; joining catches the
# ones jieba still splits, and the phrases kept out of the dictionary because
# they are built on a marker word (see Lexicon.pivot_words).
_MAX_SPAN = 6
# Laughing emoji are read as the word 哈哈 ("打断我的腿😂" is a joke); a time
# span followed by 前 is the past (bot/data/reading.yaml).
_LAUGH_EMOJI = READING.laugh_emoji
_LAUGH_WORD = READING.laugh_word
_AGO = READING.ago
_AGO_UNITS = READING.ago_units



def analyse(state: RouterState, text: str, detail: bool = False) -> Analysis:
    lex = state.lexicon
    norm = lex.normaliser
    index = lex.index
    nfkc_text = nfkc(text or "")
    folded = norm.from_pinyin(blank_stickers(fold_script(nfkc_text)).lower())
    aligned = len(folded) == len(nfkc_text)

    tokens: list[str] = []  # corrected content tokens
    clause_of: list[int] = []
    records: list[dict] | None = [] if detail else None
    rec_of_token: list[int] = []
    clause = 0
    asked: set[int] = set()  # clauses that end with a question mark
    content_chars = 0
    pos = 0
    broke = True
    fillers = norm.fillers
    typos = norm.typos
    conditional = norm.conditional
    split_first = lex.split_first
    split_last = lex.split_last
    for tok in state.cut(folded):
        start = pos
        pos += len(tok)
        # Fast path for the common case, an ideograph first.
        if "\u4e00" <= tok[0] <= "\u9fff" or is_content(tok):
            content_chars += len(tok)
            if tok in fillers:
                if detail:
                    records.append(_record(nfkc_text, folded, aligned, start, pos, tok, ["filler"], clause))
                continue
            fixed = typos.get(tok, tok)
            if tok in conditional:
                fixed = norm.correct(tok, folded)
            broke = False
            if fixed[0] in split_first and len(fixed) > 1 and fixed not in index:
                # jieba glues some markers to the next word (就让, 还要):
                # split them so 就 still ends a negation and 让我死 matches.
                tokens.append(fixed[0])
                clause_of.append(clause)
                if detail:
                    rec_of_token.append(len(records))
                    records.append(_record(nfkc_text, folded, aligned, start, start + 1, fixed[0], [], clause))
                fixed = fixed[1:]
                start += 1
            if fixed[-1] in split_last and len(fixed) > 1 and fixed not in index and fixed[:-1] in index:
                # ... and some verbs to their particle (掐着, 推了): split
                # so the verb is found and the particle read.
                tokens.append(fixed[:-1])
                clause_of.append(clause)
                if detail:
                    rec_of_token.append(len(records))
                    records.append(_record(nfkc_text, folded, aligned, start, pos - 1, fixed[:-1], [], clause))
                fixed = fixed[-1]
                start = pos - 1
            tokens.append(fixed)
            clause_of.append(clause)
            if detail:
                rec_of_token.append(len(records))
                records.append(_record(nfkc_text, folded, aligned, start, pos, fixed, [], clause))
        else:
            if is_clause_break(tok) and not broke:
                if "?" in tok:
                    asked.add(clause)
                clause += 1
                broke = True
            elif not broke and any(ch in _LAUGH_EMOJI for ch in tok):
                tokens.append(_LAUGH_WORD)
                clause_of.append(clause)
                if detail:
                    rec_of_token.append(len(records))
                    records.append(_record(nfkc_text, folded, aligned, start, pos, _LAUGH_WORD, [], clause))
                continue
            if detail and not tok.isspace():
                records.append(_record(nfkc_text, folded, aligned, start, pos, tok, ["ignored"], clause))

    # Time, negation and scope markers are read on every token, so a
    # marker inside a longer keyword ("又打") still counts.
    markers = lex.markers
    marks = [markers.get(t, 0) for t in tokens]
    # "十几年前", "三个月前", "10年前": a time span followed by 前 is the past.
    for k, t in enumerate(tokens) if _AGO in folded else ():
        if t.endswith(_AGO) and not marks[k]:
            prev = t[:-len(_AGO)] or (tokens[k - 1] if k > 0 and clause_of[k - 1] == clause_of[k] else "")
            if prev[-1:] in _AGO_UNITS:
                marks[k] |= M_PAST

    # Longest run of whole tokens (within a clause) that is a known word.
    # The words of the message for the learned layer are those runs and
    # the tokens between them: "离昏冷静期" (离昏 + 冷静期, corrected and
    # joined) then weighs what "离婚冷静期" does.
    matches: list[Match] = []
    words: list[str] = []
    word_clause: list[int] = []
    prefixes = lex.prefixes
    n = len(tokens)
    unknown = 0
    i = 0
    while i < n:
        s = tokens[i]
        best_end = i + 1 if s in index else 0
        best = s
        c = clause_of[i]
        j = i + 1
        limit = min(n, i + _MAX_SPAN)
        while j < limit and clause_of[j] == c and s in prefixes:
            s += tokens[j]
            j += 1
            if s in index:
                best_end, best = j, s
        if best_end:
            matches.append(Match(best, i, best_end, c, index[best]))
            words.append(best)
            word_clause.append(c)
            if best_end - i > 1:
                # A negator inside a listed phrase belongs to the phrase
                # (不让我出门, 不在家); breakers and time words stay
                # visible (又打 is still "again").
                for k in range(i, best_end):
                    marks[k] &= ~M_NEG
                if best in markers:
                    marks[i] |= markers[best]
            i = best_end
        else:
            if len(tokens[i]) > 1:
                unknown += 1
            words.append(tokens[i])
            word_clause.append(c)
            i += 1

    factors = None
    if matches or (state.learned is not None and any(marks)):
        factors = mark_time_and_negation(lex.urgent, matches, marks, tokens, clause_of, clause + 1,
                                               lex.urgent_words, state.learned is not None, asked)

    if detail:
        for m in matches:
            for k in range(m.start, m.end):
                rec = records[rec_of_token[k]]
                rec["matched"] = describe_hits(m.hits)
                rec["match"] = m.word
                rec["weight"] = main_weight(m.hits)
                rec["negated"] = m.negated
                rec["past"] = m.past
                rec["boosted"] = m.boosted
    return Analysis(matches, tokens, unknown, content_chars, records, clause_of, factors, words, word_clause,
                     folded)


def _record(original: str, folded: str, aligned: bool, start: int, end: int, norm: str,
            matched: list[str], clause: int) -> dict:
    surface = (original if aligned else folded)[start:end]
    return {
        "token": surface,
        "normalised": norm,
        "matched": matched,
        "match": None,
        "weight": None,
        "negated": False,
        "past": False,
        "boosted": False,
        "clause": clause,
    }


def describe_hits(hits: tuple) -> list[str]:
    out = []
    for role, a, b, w in hits:
        name = ROLE_NAMES[role]
        if role == KW:
            out.append(f"{a}/{b} {w:g}")
        elif role == CUE:
            out.append(f"cue {a} {w:g}")
        elif role == URG:
            out.append(f"urgent {a} {w:g}")
        elif role == OTH:
            out.append(f"other {w:g}")
        else:
            out.append(name)
    return out


def main_weight(hits: tuple) -> float | None:
    weights = [h[3] for h in hits if h[0] in (KW, CUE, URG, OTH)]
    return max(weights) if weights else None
