"""Caseworkers teach the router: their corrections and the corpus train a new
model, which is installed only if it routes unseen messages no worse, can be
rolled back, and reaches every running process within seconds (like a lexicon
revision, bot/tuning.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.model import ModelError, RouteModel
from bot.routing import Router
from bot.training import EVALUATION_FILES, Example, Figures, measure
from bot.tuning import TUNERS, NotAllowed
from models import ReviewSample, RouteExample, RouteModelRevision, StaffUser

log = logging.getLogger(__name__)

CORRECTIONS = "corrections"
MACRO_F1_SLACK = 0.01  # a new model may cost this much macro-F1, never any urgent recall


def correction_examples(session: Session, weight: float) -> list[Example]:
    """Every kept correction, and every sample a supervisor labelled on the review page (a
    person's label as much as a correction is), as a training example weighted above a corpus line."""
    corrections = [Example(r.text, r.category, r.subcategory, r.urgent, CORRECTIONS, weight)
                   for r in RouteExample.all(session)]
    return corrections + [Example(s.text, s.category, s.subcategory, bool(s.urgent), CORRECTIONS, weight)
                          for s in ReviewSample.labelled(session)]


def evaluation_examples(corpus_dir: str | Path) -> list[Example]:
    """The fixed evaluation set: corpus files never trained on."""
    from bot.training import corpus_examples

    return corpus_examples(corpus_dir, exclude=(), only=EVALUATION_FILES)


def route_figures(router: Router, model: RouteModel | None, examples: list[Example]) -> Figures:
    """How ``router`` with ``model`` routes the examples (its lexicon, this model)."""
    probe = router.with_model(model)
    routes = [probe.route(ex.text) for ex in examples]
    return measure(examples, [r.category for r in routes], [r.urgent for r in routes])


@dataclass
class Verdict:
    installed: bool
    reasons: list[str]
    figures: dict


def compare(new_eval: Figures, old_eval: Figures, new_cv: dict | None, old_cv: dict | None) -> list[str]:
    """Why a new model must not replace the running one (empty: it may)."""
    reasons = []
    checks = [("the fixed evaluation set", new_eval.to_dict(), old_eval.to_dict())]
    if new_cv is None:
        reasons.append("the new model carries no figures on unseen authors (train it with `niangjia model train`)")
    elif old_cv is not None:
        if new_cv.get("scheme") != old_cv.get("scheme"):
            reasons.append(f"the two models were measured differently on unseen authors ({new_cv.get('scheme')} "
                           f"against {old_cv.get('scheme')}): train the new one the same way")
        else:
            checks.append(("unseen authors", new_cv, old_cv))
    for name, new, old in checks:
        if new["urgent_recall"] < old["urgent_recall"] - 1e-9:
            reasons.append(f"on {name} urgent recall would fall from {old['urgent_recall']:.3f} "
                           f"({old['caught']}/{old['urgent']}) to {new['urgent_recall']:.3f} ({new['caught']}/{new['urgent']})")
        if new["macro_f1"] < old["macro_f1"] - MACRO_F1_SLACK - 1e-9:
            reasons.append(f"on {name} macro-F1 would fall from {old['macro_f1']:.3f} to {new['macro_f1']:.3f} "
                           f"(at most {MACRO_F1_SLACK} is allowed)")
    return reasons


def apply_model(session: Session, router: Router, running: RouteModel | None, text: str, author: StaffUser,
                corpus_dir: str | Path, now: datetime, note: str = "") -> Verdict:
    """Install the model in ``text`` if it is no worse than the running one; the verdict says why not."""
    if author.role not in TUNERS or not author.active:
        raise NotAllowed(f"{author.username} is a {author.role}: only supervisors and admins install models")
    model = RouteModel.loads(text)
    unknown = [lb for lb in model.labels if lb != "other" and router.lexicon.category(lb.partition("/")[0]) is None]
    if unknown:
        raise ModelError(f"labels not in the lexicon: {', '.join(unknown)}")
    held = evaluation_examples(corpus_dir)
    new_eval = route_figures(router, model, held)
    old_eval = route_figures(router, running, held)
    old_cv = running.meta.get("cv") if running is not None else None
    reasons = compare(new_eval, old_eval, model.meta.get("cv"), old_cv)
    figures = {"evaluation": {"new": new_eval.to_dict(), "old": old_eval.to_dict()},
               "unseen_authors": {"new": model.meta.get("cv"), "old": old_cv}}
    for part in figures["evaluation"].values():
        part.pop("per_author", None)
    if reasons:
        return Verdict(False, reasons, figures)
    session.add(RouteModelRevision(body=text, author=author, created_at=now, note=note, figures=figures))
    log.info("routing model installed by %s", author.username)
    return Verdict(True, [], figures)


def roll_back(session: Session, by: StaffUser, now: datetime) -> RouteModelRevision | None:
    """Take the model in force out; the one before it (or the shipped one) routes again."""
    if by.role not in TUNERS or not by.active:
        raise NotAllowed(f"{by.username} is a {by.role}: only supervisors and admins roll models back")
    current = RouteModelRevision.in_force(session)
    if current is not None:
        current.roll_back(by, now)
    return current


class ModelWatcher:
    """Keeps a process's router on the model in force; a broken one leaves the last good model."""

    def __init__(self, router: Router, shipped: RouteModel | None) -> None:
        self.router = router
        self.shipped = shipped
        self.loaded: int | None = None

    def refresh(self, session: Session) -> bool:
        """Load the model in force if it changed; True if the router changed."""
        newest = RouteModelRevision.in_force_id(session)
        if newest == self.loaded:
            return False
        if newest is None:
            self.router.use_model(self.shipped)
            log.info("router back on the shipped model")
        else:
            try:
                model = RouteModel.loads(session.get(RouteModelRevision, newest).body)
            except ModelError as exc:
                log.error("routing model %s refused, keeping the last good one: %s", newest, exc)
                self.loaded = newest
                return False
            self.router.use_model(model)
            log.info("router now on routing model %s", newest)
        self.loaded = newest
        return True
