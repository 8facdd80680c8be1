"""Guided lessons for the Classroom page, read from ``dashboard/content/lessons/*.md``.

A lesson file is markdown with a YAML header: what to run (a shipped scenario and a variant of
it), the question's outcome (a ``model.analysis.summary.Question``: a kind of the outcome registry
over a period), how the model's answer is measured
(``variant``: the outcome under the variant; ``difference``: variant minus the unchanged
scenario, run by run with the same seeds) and the prediction's scale. The body's level-2
sections are the lesson's prose: ``The question`` (shown first), ``What the model says``,
``What happened`` (revealed after the prediction) and ``Teacher notes``.

Prose that quotes a figure of the model takes it from the run it describes: a ``{{name}}``
placeholder (``FIGURES``: the answer, the unchanged and variant values, each extra quantity's
values, ratio and change, the robustness) is filled by ``render`` from the ``Answer`` of the
ensembles shown, teacher's injected events included; a lesson file naming an unknown
placeholder is refused when it is read.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from dashboard import core
from model.analysis import robustness
from model.analysis.summary import Question, describe, paired, summarise
from model.io.errors import ModelInputError

LESSON_DIR = core.CONTENT / "lessons"
SECTIONS = ("The question", "What the model says", "What happened", "Teacher notes")
_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)
_FIELD = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")
#: The figures a lesson's prose may quote as ``{{name}}`` (``alsoN_*``: the header's N-th
#: extra quantity, from 1).
FIGURES = {
    "answer": "the model's answer on the prediction's scale ('+7.8 pts', '3%')",
    "answer_range": "its 5-95% range or 95% interval ('+6.3 to +10.0 pts')",
    "change": "the answer in words ('rises by 7.8 pts', 'falls by 16.1 pts')",
    "unchanged": "the outcome in the unchanged scenario ('0.52 [0.44, 0.62]', '100% of runs')",
    "variant": "the outcome in the variant",
    "robustness": "how the change holds across the posterior's parameter sets",
    "runs": "the number of runs",
    "alsoN_unchanged": "extra quantity N, unchanged scenario (median or share)",
    "alsoN_variant": "extra quantity N, variant",
    "alsoN_ratio": "variant / unchanged of extra quantity N ('5.7 times')",
    "alsoN_change": "variant minus unchanged of extra quantity N ('+0.22')",
}
_ALSO = re.compile(r"also([1-9][0-9]*)_(unchanged|variant|ratio|change)\Z")


class LessonError(ModelInputError):
    """A lesson file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Prediction:
    """The scale on which students predict the answer."""

    label: str
    unit: str
    lo: float
    hi: float
    step: float
    default: float


@dataclass(frozen=True)
class Lesson:
    """One guided lesson: what the class predicts, what the model runs, and the prose."""

    id: str
    title: str
    summary: str
    minutes: int
    scenario: str
    variant_label: str
    variant: dict
    outcome: Question
    measure: str
    scale: float
    prediction: Prediction
    also: tuple[Question, ...]
    events: tuple[str, ...]
    series: tuple[str, ...]
    sections: dict[str, str] = field(hash=False, compare=False)
    path: Path | None = field(default=None, hash=False, compare=False)


def _outcome(raw: dict, where: str) -> Question:
    try:
        return Question(kind=str(raw["kind"]), start=str(raw["start"]), end=str(raw["end"]),
                       subject=str(raw.get("subject", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise LessonError(f"{where}: bad outcome {raw!r} ({exc})") from None


def parse_lesson(text: str, path: Path | None = None) -> Lesson:
    """A Lesson from the text of a lesson file; raises LessonError naming what is wrong."""
    where = str(path) if path else "<lesson>"
    m = _FRONT.match(text.replace("\r\n", "\n"))
    if not m:
        raise LessonError(f"{where}: expected a YAML header between '---' lines")
    try:
        head = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LessonError(f"{where}: the header is not valid YAML ({exc})") from None
    sections = core.split_sections(m.group(2))
    missing = [s for s in ("The question", "What happened", "Teacher notes") if s not in sections]
    if missing:
        raise LessonError(f"{where}: missing section(s) {', '.join(missing)}")
    try:
        pred = head["prediction"]
        prediction = Prediction(label=str(pred["label"]), unit=str(pred.get("unit", "")),
                                lo=float(pred["min"]), hi=float(pred["max"]),
                                step=float(pred.get("step", 1)),
                                default=float(pred.get("default", pred["min"])))
        variant = dict(head.get("variant") or {})
        lesson = Lesson(
            id=str(head["id"]), title=str(head["title"]), summary=str(head.get("summary", "")),
            minutes=int(head.get("minutes", 40)), scenario=str(head.get("scenario", "history")),
            variant_label=str(variant.pop("label", "the variant")), variant=variant,
            outcome=_outcome(head["outcome"], where),
            measure=str(head.get("measure", "variant")), scale=float(head.get("scale", 1)),
            prediction=prediction,
            also=tuple(_outcome(o, where) for o in head.get("also") or []),
            events=tuple(str(e) for e in head.get("events") or []),
            series=tuple(str(s) for s in head.get("series") or core.KEY_SERIES[:2]),
            sections=sections, path=path,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LessonError(f"{where}: bad or missing header field ({exc})") from None
    for sec, body in sections.items():
        for name in _FIELD.findall(body):
            m = _ALSO.match(name)
            if name in FIGURES and not name.startswith("alsoN"):
                continue
            if m and int(m.group(1)) <= len(lesson.also):
                continue
            raise LessonError(f"{where}: section {sec!r}: unknown figure {{{{{name}}}}}; "
                              f"expected one of {', '.join(FIGURES)} (alsoN: N from 1 to "
                              f"{len(lesson.also)})")
    if lesson.measure not in ("variant", "difference"):
        raise LessonError(f"{where}: measure must be 'variant' or 'difference'")
    if lesson.measure == "difference" and lesson.outcome.binary:
        raise LessonError(f"{where}: a 'difference' lesson needs a numeric outcome")
    if not lesson.prediction.lo < lesson.prediction.hi:
        raise LessonError(f"{where}: prediction min must be below max")
    unknown = set(variant) - {"params", "exclude", "severity"}
    if unknown:
        raise LessonError(f"{where}: unknown variant key(s) {sorted(unknown)}; expected "
                          "params, exclude, severity")
    return lesson


def load_lessons(folder: Path = LESSON_DIR) -> dict[str, Lesson]:
    """Every lesson in the folder by id, in file-name order."""
    out = {}
    for path in sorted(folder.glob("*.md")):
        lesson = parse_lesson(path.read_text(encoding="utf-8"), path)
        out[lesson.id] = lesson
    return out


def scenario_texts(lesson: Lesson, injected: tuple[dict, ...] = ()) -> tuple[str, str]:
    """(base, variant) scenario YAML texts; injected events enter both."""
    base = core.shipped_text(lesson.scenario)
    ev = [dict(e) for e in injected] or None
    b = core.edited(base, events=ev) if ev else base
    v = core.edited(base, params=lesson.variant.get("params"),
                    exclude=lesson.variant.get("exclude"),
                    severity=lesson.variant.get("severity"), events=ev)
    return b, v


@dataclass
class Answer:
    """The model's answer to a lesson's question, on the prediction's scale."""

    headline: str
    per_run: np.ndarray | None
    share: tuple[float, float, float] | None
    base: str
    variant: str
    also: list[tuple[str, str, str]]
    #: How the change (variant minus unchanged, paired by run) holds across the posterior's
    #: parameter sets, e.g. 'robust: same sign in 100% of 20 parameter sets'.
    robustness: str = robustness.NOT_MEASURED
    #: The figures the lesson's prose quotes (``FIGURES``), from these runs.
    figures: dict[str, str] = field(default_factory=dict)

    def distribution(self) -> np.ndarray:
        """Per-run values (numeric answers) or an empty array."""
        return self.per_run if self.per_run is not None else np.zeros(0)

    @property
    def point(self) -> float:
        """The answer as one number: the share, or the median of the runs."""
        if self.share is not None:
            return self.share[0]
        return float(np.median(self.per_run)) if self.per_run is not None else math.nan


def answer(lesson: Lesson, runs: int, seed: int, injected: tuple[dict, ...] = ()) -> Answer:
    """Run the lesson's base and variant ensembles (same seeds, same parameter sets: the
    comparison design of ``core.paired_ensemble``) and measure the answer, with the robustness
    of the change across the parameter sets."""
    base_text, var_text = scenario_texts(lesson, injected)
    rb = core.paired_ensemble(base_text, runs, seed)
    rv = core.paired_ensemble(var_text, runs, seed)
    o, s = lesson.outcome, lesson.scale
    vb, vv = o.values(rb), o.values(rv)
    d = core.design(runs, seed)
    rob = robustness.measure(vb, vv, d) if d is not None else None
    rob_txt = rob.text() if rob is not None else robustness.NOT_MEASURED
    unit = lesson.prediction.unit
    base_txt = describe(o, o.summary(rb))
    var_txt = describe(o, o.summary(rv))
    also_est = [(a, a.summary(rb), a.summary(rv)) for a in lesson.also]
    also = [(a.label, describe(a, b), describe(a, v)) for a, b, v in also_est]
    figs = {"unchanged": base_txt, "variant": var_txt, "robustness": rob_txt,
            "runs": f"{runs:,}", **_also_figures(also_est)}
    if lesson.measure == "difference":
        diff = paired(o.outcome, rb, rv) * s
        q5, q50, q95 = np.quantile(diff, [0.05, 0.5, 0.95])
        headline = (f"{o.label}: changes by {q50:+.1f}{unit} (median of {runs} runs; 5–95%: "
                    f"{q5:+.1f} to {q95:+.1f}) {lesson.variant_label}.")
        figs.update(answer=f"{q50:+.1f}{unit}", answer_range=f"{q5:+.1f} to {q95:+.1f}{unit}",
                    change=_change_words(q50, unit))
        return Answer(headline, diff, None, base_txt, var_txt, also, rob_txt, figs)
    if o.binary:
        est = summarise(True, vv)
        share = (est[0] * s, est[1] * s, est[2] * s)
        base_share = summarise(True, vb)[0] * s
        headline = (f"{o.label}: {share[0]:.0f}{unit} of runs {lesson.variant_label} "
                    f"(95% CI {share[1]:.0f}–{share[2]:.0f}{unit}), against "
                    f"{base_share:.0f}{unit} in the unchanged scenario.")
        figs.update(answer=f"{share[0]:.0f}{unit}",
                    answer_range=f"{share[1]:.0f}–{share[2]:.0f}{unit}",
                    change=_change_words(share[0] - base_share, unit, 0))
        return Answer(headline, None, share, base_txt, var_txt, also, rob_txt, figs)
    vals = vv * s
    q5, q50, q95 = np.quantile(vals, [0.05, 0.5, 0.95])
    headline = (f"{o.label} {lesson.variant_label}: {q50:.1f}{unit} (median of {runs} runs; "
                f"5–95%: {q5:.1f} to {q95:.1f}).")
    base_mid = float(np.median(vb * s))
    figs.update(answer=f"{q50:.1f}{unit}", answer_range=f"{q5:.1f} to {q95:.1f}{unit}",
                change=_change_words(q50 - base_mid, unit))
    return Answer(headline, vals, None, base_txt, var_txt, also, rob_txt, figs)


def _change_words(d: float, unit: str, digits: int = 1) -> str:
    """'rises by 7.8 pts', 'falls by 16.1 pts', 'does not change' (below the last digit)."""
    if not math.isfinite(d) or round(abs(d), digits) == 0:
        return "does not change"
    return f"{'rises' if d > 0 else 'falls'} by {abs(d):.{digits}f}{unit}"


def _point(q: Question, est: tuple[float, float, float]) -> str:
    m = est[0]
    if not math.isfinite(m):
        return "not in the run's window"
    return f"{m:.0%}" if q.binary else f"{m:.{q.digits}f}"


def _also_figures(also_est: list) -> dict[str, str]:
    """``alsoN_unchanged``, ``_variant``, ``_ratio`` and ``_change`` of each extra quantity."""
    out = {}
    for k, (q, b, v) in enumerate(also_est, start=1):
        out[f"also{k}_unchanged"], out[f"also{k}_variant"] = _point(q, b), _point(q, v)
        if math.isfinite(b[0]) and math.isfinite(v[0]) and abs(b[0]) > 1e-12:
            r = v[0] / b[0]
            out[f"also{k}_ratio"] = ("about the same" if abs(r - 1) < 0.05
                                     else f"{r:.1f} times")
        else:
            out[f"also{k}_ratio"] = "not comparable"
        d = v[0] - b[0]
        out[f"also{k}_change"] = (f"{d:+.0%}".replace("%", " points") if q.binary
                                  else f"{d:+.{q.digits}f}") if math.isfinite(d) else "n/a"
    return out


def render(text: str, ans: Answer) -> str:
    """A lesson section with its ``{{figure}}`` placeholders filled from the answer's runs."""
    return _FIELD.sub(lambda m: ans.figures.get(m.group(1), m.group(0)), text)


def section(lesson: Lesson, name: str, ans: Answer | None = None) -> str:
    """A section of the lesson's prose (empty if absent), figures filled from ``ans`` (a section
    that quotes figures needs the answer)."""
    text = lesson.sections.get(name, "")
    if _FIELD.search(text) and ans is None:
        raise LessonError(f"{lesson.id}: section {name!r} quotes figures of the run: it needs "
                          "the model's answer")
    return render(text, ans) if ans is not None else text


def parse_predictions(text: str, lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Numbers typed by the teacher (commas, spaces, semicolons or new lines between them; a
    trailing % is allowed) -> (values inside [lo, hi], problems)."""
    values, problems = [], []
    for tok in re.split(r"[,;\s]+", text.strip()):
        if not tok:
            continue
        try:
            v = float(tok.rstrip("%"))
        except ValueError:
            problems.append(f"{tok!r} is not a number")
            continue
        if not math.isfinite(v) or not lo <= v <= hi:
            problems.append(f"{tok} is outside {lo:g}..{hi:g}")
            continue
        values.append(v)
    return values, problems


def debrief(lesson: Lesson, ans: Answer, runs: int, seed: int, prediction: float | None,
            poll: list[float], injected: tuple[dict, ...] = (),
            today: dt.date | None = None) -> str:
    """The lesson's debrief as markdown: what was predicted, what the model said, what
    happened (template ``dashboard/content/debrief.md``)."""
    unit = lesson.prediction.unit
    if poll:
        arr = np.asarray(poll)
        closest = abs(arr - ans.point).argmin() if math.isfinite(ans.point) else None
        class_txt = (f"{len(poll)} predictions: median {np.median(arr):.1f}{unit}, range "
                     f"{arr.min():.1f}–{arr.max():.1f}{unit}"
                     + (f"; closest to the model: {arr[closest]:.1f}{unit}"
                        if closest is not None else "") + ".")
    else:
        class_txt = "No class poll was entered."
    if prediction is not None:
        class_txt += f"\n\nPrediction committed on the lesson screen: {prediction:g}{unit}."
    also = "\n".join(f"- {label}: {b} unchanged vs {v} {lesson.variant_label}"
                     for label, b, v in ans.also)
    inj = "\n".join(f"- `{e.get('id')}`: {e.get('actor', 'OTHER')} "
                    f"{e.get('action') or e.get('cameo', '')} in {e.get('date')} "
                    f"(severity {e.get('severity', 1)})" for e in injected) or "None."
    return core.content("debrief.md").format_map({
        "title": lesson.title,
        "date": (today or dt.date.today()).isoformat(),
        "runs": runs, "seed": seed,
        "question": section(lesson, "The question", ans),
        "prediction_label": lesson.prediction.label,
        "class_summary": class_txt,
        "headline": ans.headline,
        "robustness": ans.robustness,
        "base": ans.base, "variant": ans.variant, "variant_label": lesson.variant_label,
        "also": also or "-",
        "model_text": section(lesson, "What the model says", ans),
        "history": section(lesson, "What happened", ans),
        "injected": inj,
    })
