"""The router's last stages: decide the route from the learned model's
probabilities and the lexicon's reading, then explain it in Chinese.

The model reads first: its label probabilities give the category, the
subcategory and the confidence that decides when she is asked to choose
(1/2/3). Urgency is its own decision: urgent when the lexicon's
high-precision danger rule fired (a danger word in a present, un-negated
clause, summing past its trigger) or when the model's danger probability
passes the threshold chosen on unseen authors (bot/training.py). The rule's
alarm stands unless the model is all but sure there is no danger (its
probability under ``rule_veto``, also chosen on unseen authors): on a new
author most false alarms are the rule's ("电话也打不通", "催收天天打我电话"). A false
alarm does not change the category; only the three policies below do, each
named (``POLICIES``) and recorded on the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Prediction, best_route

__all__ = [
    "NEVER_MEDIATE_VIOLENCE", "NO_MENU_WHEN_URGENT", "POLICIES", "SELF_HARM_TO_COUNSELLING", "Decision", "LexicalRead",
    "danger_bar", "decide",
]

# The three policies that stay in code.
NEVER_MEDIATE_VIOLENCE = "never_mediate_violence"  # violence is a rights case, never mediated
NO_MENU_WHEN_URGENT = "no_menu_when_urgent"  # a woman in danger is never asked to pick a menu item
SELF_HARM_TO_COUNSELLING = "self_harm_to_counselling"  # her own intent to harm herself: counselling, and 12356
POLICIES = (NEVER_MEDIATE_VIOLENCE, NO_MENU_WHEN_URGENT, SELF_HARM_TO_COUNSELLING)

CLEARED_THRESHOLD = 0.9
VIOLENCE_ROUTE = ("consultation", "anti_dv_law")
SELF_HARM_ROUTE = ("service", "counselling")


@dataclass(frozen=True)
class LexicalRead:
    """What the lexicon's rules made of the message."""

    category: str
    subcategory: str | None
    urgent: bool  # its danger rule fired: present, un-negated danger past the trigger
    names_violence: bool  # it routes to where violence is handled (danger, or a word such as 家暴)
    self_harm: bool  # its danger is her own intent to harm herself (not his threat)
    cleared: bool = False  # it found danger words and read every one as negated, past, unreal or harmless
    confidence: float = 1.0  # how sure it is of its own route


@dataclass(frozen=True)
class Decision:
    category: str
    subcategory: str | None
    urgent: bool
    confidence: float  # the model's probability of the category
    needs_choice: bool
    urgent_by_rule: bool
    urgent_by_model: bool
    self_harm: bool
    rule_vetoed: bool  # the rule fired but the model's danger was under the veto
    policies: tuple[str, ...]  # the policies that changed this route


def danger_bar(lex: LexicalRead, danger_threshold: float) -> float:
    """How sure the model must be to raise the alarm, given what the lexicon read.

    Where the lexicon read every danger word out of the present ("他没打我",
    "以前…现在搬出来了", "该打什么药") its reading of context stands unless the
    model is sure; elsewhere ``danger_threshold`` (chosen for recall on unseen
    authors, bot/training.py)."""
    if lex.cleared:
        return max(danger_threshold, CLEARED_THRESHOLD)
    return danger_threshold


def decide(pred: Prediction, lex: LexicalRead, danger_threshold: float, menu_threshold: float,
           rule_veto: float = 0.0) -> Decision:
    """The route of one message from the model's prediction and the lexicon's reading.

    ``rule_veto``: the rule's alarm is overruled when the model's danger is below it (0: never)."""
    category, subcategory, confidence = best_route(pred.label_p, pred.category_p)
    by_model = pred.p_danger >= danger_bar(lex, danger_threshold)
    vetoed = lex.urgent and pred.p_danger < rule_veto
    by_rule = lex.urgent and not vetoed
    urgent = by_rule or by_model
    applied: list[str] = []
    self_harm = False
    if by_rule and lex.self_harm:
        self_harm = True
        if (category, subcategory) != SELF_HARM_ROUTE:
            category, subcategory = SELF_HARM_ROUTE
            applied.append(SELF_HARM_TO_COUNSELLING)
    elif urgent and (category, subcategory) == SELF_HARM_ROUTE:
        self_harm = True  # the model's danger where she needs counselling: her first reply gives 12356 too
    if category == "mediation" and (lex.names_violence or urgent):
        category, subcategory = VIOLENCE_ROUTE
        applied.append(NEVER_MEDIATE_VIOLENCE)
    if category == "other" and lex.category == "other":
        # "Other" is where the model puts what names no route. Whether that is
        # small talk (你好, 谢谢) or a worry not yet told ("我有个事情想问一下…
        # 心里很乱") the lexicon reads better: long and unknown, it asks her.
        confidence = min(confidence, lex.confidence)
    needs_choice = confidence < menu_threshold
    if urgent and needs_choice:
        needs_choice = False
        applied.append(NO_MENU_WHEN_URGENT)
    return Decision(category, subcategory, urgent, round(confidence, 3), needs_choice, by_rule, by_model,
                    self_harm, vetoed, tuple(applied))
