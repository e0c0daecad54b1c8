"""Stage five of routing: the lexicon's score. Each subcategory's weighted
keywords and each category's cues add up; danger words add up per kind and
decide urgency when they reach the trigger; the naive Bayes layer (when no
model reads first) adds its evidence. Confidence falls when a rival category
scores close and rises with the evidence."""

from __future__ import annotations

import math

from .harm import object_after
from .explain import lexicon_explanation
from .layer import layer_share
from .learned import CLASSES as LEARNED_CLASSES
from .lexicon import CUE, KW, OTH, OTHER, ROUTED, SELF_HARM, URG, Lexicon
from .stages import Analysis, DangerWord, Route, RouterState
from .victims import OWN_INTENT_RE, in_clause, threat_by_him, victim_kind

# A cue at least this strong routes to its category even with no topic word.
_STRONG_CUE = 2.0
# A keyword this heavy names its subcategory by itself (see lexicon.yaml).
_NAMES_IT = 3.0


def score(state: RouterState, a: Analysis, explain: bool = True) -> Route:
    lex = state.lexicon
    rules = lex.urgent
    cue: dict[str, float] = {}
    cat_kw: dict[str, float] = {}
    sub_kw: dict[tuple[str, str], float] = {}
    named: dict[tuple[str, str], float] = {}  # each route's strongest word, at full weight
    # Evidence per category/subcategory as (word, weight) for explanation.
    sub_words: dict[tuple[str, str], dict[str, float]] = {}
    cue_words: dict[str, list] = {}
    other = 0.0
    other_words: list = []
    urgent_by_kind: dict[str, float] = {}
    urgent_words: list[DangerWord] = []
    urgent_clauses: dict[str, set[int]] = {}
    clause_eff: dict[tuple[str, int], float] = {}
    seen: set[str] = set()

    # An urgent word said twice counts once, at its strongest: "他没打我，
    # 昨天打了" is the second 打. Route words also count once.
    best_urgent: dict[str, DangerWord] = {}
    harmless = rules.harmless
    for m in a.matches:
        first = m.word not in seen
        seen.add(m.word)
        for role, cat, sub, w in m.hits:
            if role == URG:
                if m.word in harmless and in_clause(a, m.clause, harmless[m.word]) and not (
                        rules.harm is not None and m.word in rules.harm.verbs
                        and object_after(rules.harm, m, a.tokens, a.clause_of)):
                    w = 0.0  # 疫苗在哪打, 字打得慢, 狗走丢了, 练拳击被陪练打了一拳
                elif m.boosted:
                    edge = rules.edge
                    at_edge = edge is not None and m.word in edge.places
                    w = max(w, edge.strength if at_edge else rules.harm.strength)
                eff = 0.0 if m.negated else w * (rules.past_factor if m.past else 1.0)
                prev = best_urgent.get(m.word)
                if prev is None or eff > prev.effective:
                    best_urgent[m.word] = DangerWord(m.word, w, eff, m.negated, m.past, cat, m.clause)
                continue
            if not first:
                continue
            if role == KW:
                key = (cat, sub)
                if w > named.get(key, 0.0):
                    named[key] = w
                if m.background:
                    # Background ("以前受过家暴") says less about what she
                    # needs now than the rest of the message.
                    w *= lex.background_factor
                sub_kw[key] = sub_kw.get(key, 0.0) + w
                _add_word(sub_words, key, m.word, w)
            elif role == CUE:
                cue[cat] = cue.get(cat, 0.0) + w
                cue_words.setdefault(cat, []).append((m.word, w))
            elif role == OTH:
                other += w
                other_words.append((m.word, w))
    for d in best_urgent.values():
        urgent_words.append(d)
        word, eff, kind, clause = d.word, d.effective, d.kind, d.clause
        if eff > 0:
            urgent_clauses.setdefault(kind, set()).add(clause)
            clause_eff[(kind, clause)] = clause_eff.get((kind, clause), 0.0) + eff
            urgent_by_kind[kind] = urgent_by_kind.get(kind, 0.0) + eff
            # Danger words are also evidence for where the danger is
            # handled, even below the trigger.
            key = state.route_of_kind[kind]
            sub_kw[key] = sub_kw.get(key, 0.0) + eff
            _add_word(sub_words, key, word, eff)

    urgent_total = sum(urgent_by_kind.values())

    # A category scores its cues plus its best subcategory: words spread
    # over unrelated subcategories do not add up to a category.
    for (cat, _sub), w in sub_kw.items():
        if w > cat_kw.get(cat, 0.0):
            cat_kw[cat] = w
    for c in ROUTED:
        if c not in cue and c in cat_kw:
            # Mediation is asked for: a dispute told without a request
            # ("帮忙调解", "说说他") is more often a question or a need.
            cat_kw[c] *= lex.category(c).without_cue
    cat_score = {c: cue.get(c, 0.0) + cat_kw.get(c, 0.0) for c in ROUTED}
    scale = lex.evidence_scale

    # The learned layer adds evidence: its category posterior to every
    # category's score ("other" too), its urgent log-odds (read clause by
    # clause, so negated, past and joking clauses count as the lexicon
    # says) to the danger sum.
    learned = state.learned
    ev, learned_urgent, learned_cat = layer_share(learned, a, urgent_total, rules.threshold, best_urgent)
    danger = urgent_total + learned_urgent
    urgent = danger >= rules.threshold - 1e-9
    urgent_kw = tuple(d.word for d in sorted(urgent_words, key=lambda d: -d.effective) if d.effective > 0)
    learned_urgent_words: list[tuple[str, float]] = []
    if ev is not None and learned_urgent >= 0.05:
        learned_urgent_words = ev.top(4, 3)
        if urgent:
            urgent_kw += tuple(w for w, _ in learned_urgent_words if w not in urgent_kw)

    def best_sub(cat: str) -> str | None:
        best, best_w = None, 0.0
        for sub in lex.category(cat).subcategories:
            w = sub_kw.get((cat, sub.key), 0.0)
            if w > best_w:
                best, best_w = sub.key, w
        return best

    total = {c: cat_score[c] + learned_cat.get(c, 0.0) for c in ROUTED}
    other_total = other + learned_cat.get(OTHER, 0.0)
    kind = None
    if urgent:
        # The kind of danger decides where she is helped; ties go to the
        # kind listed first in the lexicon.
        if urgent_by_kind:
            order = {k.key: i for i, k in enumerate(rules.kinds)}
            kind = max(urgent_by_kind, key=lambda k: (urgent_by_kind[k], -order[k]))
            kind = victim_kind(rules.victim, kind, urgent_by_kind, clause_eff, a,
                                     rules.harm.passive if rules.harm else frozenset())
            # A deciding kind (trafficking) takes the route from the
            # violence told with it, never from her wish to die.
            beaten = rules.victim is None or kind in (rules.victim.from_kind, rules.victim.to_kind)
            deciding = [k.key for k in rules.kinds
                        if k.decides and urgent_by_kind.get(k.key, 0.0) >= rules.threshold - 1e-9]
            if deciding and beaten:
                kind = deciding[0]
        else:
            kind = _learned_kind(state, total, best_sub)
        said = a.text or "".join(a.tokens)
        if kind == SELF_HARM and rules.victim is not None and threat_by_him(said):
            # "他把煤气打开了，说大家一起死": the danger is his violence.
            kind = rules.victim.from_kind
        elif (kind != SELF_HARM and urgent_by_kind.get(SELF_HARM, 0.0) >= rules.threshold - 1e-9
              and OWN_INTENT_RE.search(said) is not None):
            # "她又打我…我就想往自己手上割一下": her own wish to hurt
            # herself is what she needs help with first.
            kind = SELF_HARM
        category, subcategory = state.route_of_kind[kind]
        confidence = 1.0 - math.exp(-danger / max(rules.threshold, 1e-9) * 1.5)
        needs_choice = False  # a woman in danger is never asked to pick a menu item
    elif learned is not None:
        ranked = sorted(ROUTED, key=lambda c: -total[c])
        top = ranked[0]
        s1 = total[top]
        if other_total >= s1 or s1 < lex.min_evidence:
            category, subcategory = OTHER, None
            lex_s1 = max(cat_score.values())
            confidence = _other_confidence(lex, other, lex_s1, a)
            if lex_s1 > 0.0 and not other:
                confidence = min(confidence, lex.threshold - 0.05)  # a faint hint: ask her
        else:
            category = top
            subcategory = best_sub(top) if cat_score[top] > 0.0 else None
            s2 = max(total[ranked[1]], other_total)
            confidence = (s1 / (s1 + s2)) * (1.0 - math.exp(-s1 / scale))
            if subcategory is None:
                # No topic word: the category is the learned layer's (or
                # a cue's) guess; she confirms it.
                confidence = min(confidence, 0.45)
        needs_choice = confidence < lex.threshold
    else:
        ranked = sorted(ROUTED, key=lambda c: -cat_score[c])
        top = ranked[0]
        s1 = cat_score[top]
        subcategory = best_sub(top) if s1 > 0.0 else None
        # Intent cues alone ("怎么办", "在哪") name no problem: unless the
        # cue is strong ("帮忙调解", "报名"), there is nothing to route.
        cue_only = subcategory is None and cue.get(top, 0.0) < _STRONG_CUE
        if s1 <= 0.0 or cue_only or s1 < lex.min_evidence or (other > 0 and other >= s1):
            category, subcategory = OTHER, None
            confidence = _other_confidence(lex, other, 0.0 if cue_only else s1, a)
            if s1 > 0.0 and not other:
                confidence = min(confidence, lex.threshold - 0.05)  # a faint hint: ask her
        else:
            category = top
            s2 = max(cat_score[ranked[1]], other)
            confidence = (s1 / (s1 + s2)) * (1.0 - math.exp(-s1 / scale))
            if subcategory is None:
                # A strong cue but no topic: the category is a guess
                # about what she will say next.
                confidence = min(confidence, 0.45)
        needs_choice = confidence < lex.threshold
    if category == "mediation" and rules.victim is not None:
        # Domestic violence is a rights case, never mediated as if both
        # sides were equal: a message that names it (a word weighing
        # _NAMES_IT, e.g. 家暴) goes where violence is handled even when
        # she asks for mediation and the danger is not urgent.
        dv = state.route_of_kind.get(rules.victim.from_kind)
        # (Named in the past too: "上个月推了她一把…想请你们劝她回来".)
        if dv is not None and max(sub_kw.get(dv, 0.0), named.get(dv, 0.0)) >= _NAMES_IT:
            category, subcategory = dv
    confidence = round(max(0.0, min(1.0, confidence)), 3)

    learned_words: list[tuple[str, float]] = []
    if ev is not None and not urgent:
        # Its words are named where it weighed more than the lexicon.
        lex_share = other if category == OTHER else cat_score[category]
        if learned_cat[category] > lex_share:
            learned_words = ev.top(LEARNED_CLASSES.index(category), 3)

    keywords: list[tuple[str, float]] = []
    if category != OTHER:
        if subcategory is not None:
            keywords.extend(sub_words.get((category, subcategory), {}).items())
        keywords.extend(cue_words.get(category, []))
    else:
        keywords.extend(other_words)
    if not keywords and learned_words:
        # Nothing in the lexicon decided: the learned words did.
        keywords.extend((w, 0.0) for w, _ in learned_words)
    if urgent:
        keywords = [(d.word, d.effective) for d in urgent_words if d.effective > 0] + keywords
        if not urgent_by_kind:
            keywords = [(w, 0.0) for w, _ in learned_urgent_words] + keywords
    ordered: list[str] = []
    for w, _ in sorted(keywords, key=lambda x: -x[1]):
        if w not in ordered:
            ordered.append(w)

    learned_note = None
    if ev is not None:
        learned_note = (learned_cat.get(category, 0.0), learned_words, learned_urgent, learned_urgent_words)
    explanation = lexicon_explanation(
        category, subcategory, confidence, sub_words, cue_words, other_words,
        kind, danger, rules.threshold, urgent_words, {**total, OTHER: other_total}, learned_note,
    ) if explain else ""  # the model's route explains itself (bot/explain.py)
    present = sum(d.effective for d in best_urgent.values() if d.effective > 0 and not d.past)
    return Route(
        category=category,
        subcategory=subcategory,
        urgent=urgent,
        confidence=confidence,
        keywords=tuple(ordered),
        urgent_keywords=urgent_kw,
        needs_choice=needs_choice,
        explanation=explanation,
        lexicon_danger=round(present, 3),
        lexicon_cleared=bool(best_urgent) and not present,
    )

def _learned_kind(state: RouterState, total: dict[str, float], best_sub) -> str:
    """The kind of danger when only the learned layer saw it: the one
    handled where the message's best route is, violence if none is."""
    lex = state.lexicon
    top = max(ROUTED, key=lambda c: total[c])
    sub = best_sub(top)
    for kind in lex.urgent.kinds:
        if (kind.category, kind.subcategory) == (top, sub):
            return kind.key
    victim = lex.urgent.victim
    return victim.from_kind if victim is not None else lex.urgent.kinds[0].key



def _other_confidence(lex: Lexicon, other: float, s1: float, a: Analysis) -> float:
    """How sure "other" is: greetings and thanks yes, a long unknown message no."""
    if other > 0:
        # Unknown content words dilute a greeting: "你好" is other, "你好"
        # followed by three sentences of words we do not know is not.
        noise = s1 + 0.35 * a.unknown_words
        return (other / (other + noise)) * (1.0 - math.exp(-other / lex.evidence_scale * 1.5))
    if a.content_chars <= lex.short_message_chars and a.unknown_words <= 1:
        return 0.6  # "哈哈", "好的", an emoji: nothing to route, nothing missed
    return max(0.05, 0.4 - 0.05 * a.unknown_words)



def _add_word(table: dict, key: tuple, word: str, weight: float) -> None:
    words = table.setdefault(key, {})
    words[word] = words.get(word, 0.0) + weight
