"""Stage four of routing: each clause's context. Weighted danger terms are read
in their clause: a negator just before a term ("他没打我") cancels it, a clause
about the past ("以前被打过") or a hypothetical ("如果他打我") scales it down
unless a present marker (现在, 又, 刚才, 今晚, 他说) puts it back into the
present; what comes before "现在已经搬出来了" is the past too; so is "十几年前".
A joke, a film or the news puts its clause and the next one or two out of the
present. The learned layers read the same context (clause_factors)."""

from __future__ import annotations

from .harm import has_victim, she_is_there
from .lexicon import M_HYPO, M_PAST, M_PRESENT, M_SAFE, M_UNREAL, M_BREAK, M_NEG, SELF_HARM, URG, UrgentRules
from .reading import READING
from .stages import Match

# Clauses after a past marker that stay in the past unless they say otherwise.
_PAST_CARRY = 2


def mark_time_and_negation(
    rules: UrgentRules, matches: list[Match], marks: list[int], tokens: list[str],
    clause_of: list[int], nclauses: int, lex_urgent_words: frozenset[str], want_factors: bool = False,
    asked: set[int] | frozenset[int] = frozenset(),
) -> list[float] | None:
    """Flag words in a past/hypothetical clause, and urgent terms that are negated.

    With ``want_factors``, also return how much each clause's danger counts
    for the learned layer (see _clause_factors)."""
    has_past = [0] * nclauses  # bits: M_PAST and/or M_HYPO
    has_present = [False] * nclauses
    unreal = [False] * nclauses
    any_past = False
    last_safe = -1
    plain = [False] * nclauses  # a clause with a word that is not a joke marker
    thanks = [False] * nclauses  # "谢谢你们以前帮过我": the past of that clause only
    for k, bits in enumerate(marks):
        if tokens[k].startswith(_THANKS):
            thanks[clause_of[k]] = True
        if bits & M_SAFE:
            last_safe = max(last_safe, clause_of[k])
        if bits & M_UNREAL:
            # A joke, a film, the news: not happening to her, even "now".
            unreal[clause_of[k]] = True
            any_past = True
        elif tokens[k] not in _PARTICLES:
            plain[clause_of[k]] = True
        if bits & (M_PAST | M_HYPO):
            has_past[clause_of[k]] |= bits & (M_PAST | M_HYPO)
            any_past = True
        if bits & M_PRESENT and not (
                k + 1 < len(tokens) and clause_of[k + 1] == clause_of[k] and tokens[k + 1] in rules.past_aspect):
            # "威胁过我" is a threat he once made, not one he makes now.
            has_present[clause_of[k]] = True
    past_clause = None
    for c in range(1, nclauses):
        if unreal[c] and not plain[c]:
            # Laughter on its own after a clause ("…就打死我 哈哈哈哈",
            # "吵得我想杀人（夸张哈哈）") makes that clause the joke.
            unreal[c - 1] = True
    if any_past:
        # A clause is in the past (or hypothetical) if it says so, or
        # closely follows one that did and says nothing itself; a present
        # marker in the clause wins.
        past_clause = [0] * nclauses
        state = 0
        age = 0
        for c in range(nclauses):
            if unreal[c]:
                state, age = M_HYPO | M_UNREAL, 0
            elif has_present[c]:
                state = 0
            elif has_past[c]:
                # Thanks for help she had before frames no story: what
                # follows it is said now ("…存款我都转给我妹了").
                state, age = has_past[c], (_PAST_CARRY if thanks[c] else 0)
            elif state == M_HYPO and c - 1 in asked and not _is_question(c, asked, tokens, clause_of):
                # A "what if" ends with its question: "保护令一般几天能
                # 下来？他说晚上回来要我好看" is a question, then now
                # (another question after it is still asking).
                state = 0
            elif state:
                # A story about the past runs on for a clause or two, not
                # for the rest of the message.
                age += 1
                if age > _PAST_CARRY:
                    state = 0
            past_clause[c] = state
        her_words = tuple(rules.victim.self_words) if rules.victim is not None else ()
        for m in matches:
            bits = past_clause[m.clause]
            if bits == M_HYPO and m.word in lex_urgent_words and _after_then(tokens, clause_of, m):
                # "你要是敢报警，我就弄死你": the danger after 就 is the
                # threat he makes now, not a "what if" she asks about.
                bits = 0
            elif bits == M_HYPO and _own_death_imagined(m, tokens, clause_of, her_words):
                # "要是我从五楼跳下去，大家是不是都清净了": her own death
                # imagined is how the wish to die is told, not a question.
                bits = 0
            m.past = bool(bits)
            m.background = bool(bits & (M_PAST | M_UNREAL))

    if last_safe > 0:
        # "…，现在已经搬出来了": what came before she says she is safe is
        # the past, unless its own clause says now — and not merely beside
        # a time in the past ("以前他拿刀威胁我，现在已经离婚了").
        for m in matches:
            if m.clause < last_safe and (not has_present[m.clause] or has_past[m.clause] & M_PAST):
                m.past = True

    window = rules.negation_window
    harm = rules.harm
    edge = rules.edge
    selves = rules.victim.self_words if rules.victim is not None else frozenset()
    urgent_words = lex_urgent_words
    for m in matches:
        if m.word not in urgent_words:
            continue
        if harm is not None and m.word in harm.verbs:
            m.boosted = has_victim(harm, m, tokens, clause_of)
        elif edge is not None and m.word in edge.places:
            m.boosted = she_is_there(edge, selves, rules.present_markers, m, tokens, clause_of)
        # 打过我: the experiential 过 right after the term puts it in the
        # past, unless the clause says it is happening now.
        if not m.past and rules.past_aspect and not has_present[m.clause]:
            k = m.end
            while k < len(tokens) and clause_of[k] == m.clause and k < m.end + 2:
                if tokens[k] in rules.past_aspect:
                    m.past = True
                    break
                k += 1
        # Look back from the term over at most `window` words between:
        # a negator negates it, a scope breaker ("就", "但是") stops the look.
        if any(marks[k] & M_BREAK for k in range(m.start, m.end)):
            continue  # the term begins past a breaker: "就打", "又打"
        k = m.start - 1
        lowest = m.start - 1 - window
        while k >= 0 and k >= lowest and clause_of[k] == m.clause:
            bits = marks[k]
            if bits & M_BREAK and not bits & M_NEG:
                break
            if bits & M_NEG:
                m.negated = True
                break
            k -= 1
    if not want_factors:
        return None
    return clause_factors(rules, matches, nclauses, past_clause, has_present, last_safe, urgent_words)

# -- scoring -----------------------------------------------------------


def clause_factors(rules: UrgentRules, matches: list[Match], nclauses: int, past_clause: list[int] | None,
                    has_present: list[bool], last_safe: int, urgent_words: frozenset[str]) -> list[float] | None:
    """How much each clause's danger counts for the learned layer.

    The lexicon's reading of time and negation overrules the learned words: a
    joke, a film or the news counts nothing; the past, a "what if" and what
    came before "现在已经搬出来了" count past_factor; a clause whose danger
    words are all negated ("他没打我") counts nothing.
    """
    factors = [1.0] * nclauses
    if past_clause is not None:
        for c, bits in enumerate(past_clause):
            if bits & M_UNREAL:
                factors[c] = 0.0
            elif bits:
                factors[c] = rules.past_factor
    if last_safe >= 0:
        for c in range(last_safe + 1):
            if c == last_safe or not has_present[c]:
                factors[c] = min(factors[c], rules.past_factor)
    negated: set[int] = set()
    live: set[int] = set()
    for m in matches:
        if m.word in urgent_words:
            if m.negated:
                negated.add(m.clause)
            elif not m.past and any(h[0] == URG and h[3] > 0 for h in m.hits):
                live.add(m.clause)
    for c in negated - live:
        factors[c] = 0.0
    if factors.count(1.0) == nclauses:
        return None  # all of it is now: the layer's fast path
    return factors


# The words of bot/data/reading.yaml this module reads.
_PARTICLES = READING.particles
_THANKS = READING.thanks
_THEN = READING.then
_THEN_REACH = READING.then_reach
_QUESTION_ENDS = READING.question_ends


def _is_question(c: int, asked: set[int] | frozenset[int], tokens: list[str], clause_of: list[int]) -> bool:
    """True if clause ``c`` ends with a question mark or a question particle."""
    if c in asked:
        return True
    last = max((k for k, cl in enumerate(clause_of) if cl == c), default=None)
    return last is not None and tokens[last].endswith(_QUESTION_ENDS)


def _own_death_imagined(m: Match, tokens: list[str], clause_of: list[int], selves: tuple[str, ...]) -> bool:
    """True if ``m`` is a self-harm term in a clause where she is the subject ("要是我死了")."""
    if not any(h[0] == URG and h[1] == SELF_HARM for h in m.hits):
        return False
    return any(tokens[k].startswith(selves) and clause_of[k] == m.clause for k in range(m.end))


def _after_then(tokens: list[str], clause_of: list[int], m: Match) -> bool:
    """True if 就 comes at most _THEN_REACH words before the term, in its clause."""
    k = m.start - 1
    while k >= 0 and k >= m.start - _THEN_REACH and clause_of[k] == m.clause:
        if tokens[k] == _THEN:
            return True
        k -= 1
    return m.word.startswith(_THEN)
