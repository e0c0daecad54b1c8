"""The route explained in plain Chinese, for the caseworker's ticket page: the
words that decided it, the model's share, why it is (or is not) urgent, and
any policy that changed it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .decide import NEVER_MEDIATE_VIOLENCE, NO_MENU_WHEN_URGENT, SELF_HARM_TO_COUNSELLING, Decision
from .model import Prediction, RouteModel

__all__ = ["POLICY_TEXT", "explain", "readable_words"]

POLICY_TEXT = {
    NEVER_MEDIATE_VIOLENCE: "涉及暴力，按规定不转调解，转反家暴咨询",
    NO_MENU_WHEN_URGENT: "紧急求助不让她选菜单",
    SELF_HARM_TO_COUNSELLING: "她本人有伤害自己的念头，转心理咨询（回复中给出心理援助热线12356和110）",
}


def readable_words(model: RouteModel, feats: Iterable[str], column: int, n: int = 4) -> list[str]:
    """The words that pushed most towards ``column`` (a label's index, -1 for danger).

    Only whole words are named (jieba's tokens, the lexicon's danger words): a
    character n-gram says less to a reader, and reading them all would cost
    more than routing."""
    rows = []
    for f in feats:
        kind = f[:2]
        if kind == "w:":
            word = f[2:]
        elif kind == "d:":
            word = f[2:].rpartition(":")[0]
        else:
            continue
        if len(word) < 2 or not word.isalnum():
            continue
        w = model.column(f, column)
        if w > 0.05:
            rows.append((word, w))
    rows.sort(key=lambda x: -x[1])
    out: list[str] = []
    for word, _ in rows:
        if len(out) >= n:
            break
        if all(word not in o and o not in word for o in out):  # 婆婆 and 婆婆骂 say one thing
            out.append(word)
    return out


def _quote(words: Sequence[str]) -> str:
    return "、".join(f"“{w}”" for w in words)


def explain(label: Callable[[str, str | None], str], d: Decision, pred: Prediction, threshold: float,
            lexicon_words: Sequence[str], model_words: Sequence[str], danger_words: Sequence[str],
            model_danger_words: Sequence[str]) -> str:
    """One paragraph in Chinese: route, deciding words, the model's share, urgency, policies."""
    parts = [f"转到“{label(d.category, d.subcategory)}”，模型把握 {d.confidence:.0%}"]
    if lexicon_words:
        parts.append(f"词表关键词：{_quote(lexicon_words[:4])}")
    if model_words:
        parts.append(f"模型看重的词：{_quote(model_words)}")
    if d.needs_choice:
        parts.append("把握不足，请她回复数字选择")
    text = "；".join(parts) + "。"
    if d.urgent:
        why = []
        if d.urgent_by_rule:
            why.append("词表危险规则命中" + (f"（{_quote(danger_words[:4])}，当前发生、未被否定）" if danger_words else ""))
        if d.urgent_by_model:
            said = f"，{_quote(model_danger_words)}" if model_danger_words else ""
            why.append(f"模型判断危险的概率 {pred.p_danger:.0%}（紧急线 {threshold:.0%}{said}）")
        text += "紧急：" + "；".join(why) + "。"
    elif d.rule_vetoed:
        text += (f"不紧急：词表危险规则命中（{_quote(danger_words[:4])}），但模型判断危险的概率只有 "
                 f"{pred.p_danger:.0%}，几乎可以排除，规则的警报被否决。")
    else:
        text += f"不紧急：模型判断危险的概率 {pred.p_danger:.0%}，低于紧急线 {threshold:.0%}。"
    for policy in d.policies:
        text += f"规定：{POLICY_TEXT[policy]}。"
    return text


def lexicon_explanation(category, subcategory, confidence, sub_words, cue_words, other_words,
                 kind, urgent_total, trigger, urgent_words, cat_score, learned=None) -> str:
    """One line for a supervisor: the route, its words and weights, rivals, urgency.

    ``learned`` is (its share of the category's score, its top words, its
    urgent contribution, its top urgent words) when the learned layer is on."""
    fmt = lambda items: ", ".join(f"{w} {x:.1f}" for w, x in sorted(items, key=lambda t: -t[1]))  # noqa: E731
    head = category if subcategory is None else f"{category}/{subcategory}"
    parts = []
    if kind is not None:
        parts.append(f"danger ({kind})")
    elif category == "other":
        parts.append(fmt(other_words) if other_words else "no known words")
    else:
        if subcategory is not None:
            parts.append(fmt(sub_words.get((category, subcategory), {}).items()))
        if cue_words.get(category):
            parts.append("cues " + fmt(cue_words[category]))
    words = lambda items: ", ".join(w for w, _ in items)  # noqa: E731
    if learned is not None and kind is None and learned[0] >= 0.05:
        parts.append(f"learned {learned[0]:.1f}" + (f" ({words(learned[1])})" if learned[1] else ""))
    if kind is not None:
        out = f"{head}: {parts[0]} (conf {confidence:.2f})"
    else:
        score = cat_score.get(category, 0.0)
        out = f"{head} {score:.1f}: {'; '.join(p for p in parts if p) or '-'} (conf {confidence:.2f})"
    rivals = [f"{c} {s:.1f}" for c, s in sorted(cat_score.items(), key=lambda t: -t[1]) if s > 0 and c != category]
    if rivals and kind is None:
        out += " vs " + ", ".join(rivals[:2])
    learned_urgent = learned[2] if learned is not None else 0.0
    if urgent_words or abs(learned_urgent) >= 0.05:
        terms = []
        for d in urgent_words:
            w, eff, neg, past = d.word, d.effective, d.negated, d.past
            note = " negated" if neg else (" past" if past else "")
            terms.append(f"{w} {eff:.1f}{note}")
        if abs(learned_urgent) >= 0.05:
            # The learned layer's share, with the words that weighed most.
            said = f" ({words(learned[3])})" if learned_urgent > 0 and learned[3] else ""
            terms.append(f"learned {learned_urgent:+.1f}{said}")
        verdict = "URGENT" if kind is not None else "not urgent"
        op = ">=" if kind is not None else "<"
        out += f" | {verdict}: {' + '.join(terms)} = {urgent_total:.1f} {op} {trigger:g}"
    return out
