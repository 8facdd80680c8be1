"""A session's debrief (markdown, PDF) and the per-student CSV a teacher can grade from.

Everything comes from the store and the model's cached answers: every prediction, every team's
moves and votes, the model's answers and the documented history.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import textwrap

import numpy as np
import pandas as pd

from dashboard import core, lessons
from dashboard.classroom import game
from dashboard.classroom.service import Classroom
from model.inputs.scenario import month_label


def _when(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else "-"


def student_table(c: Classroom, code: str, token: str) -> pd.DataFrame:
    """One row per student: prediction, error against the model, participation."""
    tv = c.teacher_view(code, token)
    s = c.teacher(code, token)
    rows = []
    if s["kind"] == "lesson":
        point = c.answer(s).point
        for p in tv["people"]:
            v = p["prediction"]
            rows.append({"name": p["name"], "prediction": v, "model": point,
                         "error": abs(v - point) if v is not None and math.isfinite(point)
                         else None, "answered": v is not None})
        return pd.DataFrame(rows, columns=["name", "prediction", "model", "error", "answered"])
    votes = c.store.votes(s["id"])
    months = max(int(s["month"]), 1)
    teams = {t["id"]: t["actor"] for t in tv["teams"]}
    for p in tv["people"]:
        mine = [v for v in votes if v["participant_id"] == p["id"]]
        rows.append({"name": p["name"], "team": teams.get(p["team"], ""),
                     "votes": len(mine), "months played": int(s["month"]),
                     "participation": min(1.0, len({v["month"] for v in mine}) / months),
                     "moves voted": " ".join(f"{v['month'] + 1}:{v['action']}" for v in mine)})
    return pd.DataFrame(rows, columns=["name", "team", "votes", "months played",
                                       "participation", "moves voted"])


def student_csv(c: Classroom, code: str, token: str) -> bytes:
    return student_table(c, code, token).to_csv(index=False).encode("utf-8")


def _lesson_md(c: Classroom, s, preds: list[float]) -> str:
    L = c.lessons[s["ref"]]
    ans = c.answer(s)
    return lessons.debrief(L, ans, s["runs"], s["seed"], None, preds,
                           tuple(c.store.injects(s["id"])))


def _game_md(c: Classroom, s, cfg: dict) -> str:
    moves = c.store.moves(s["id"])
    votes = c.store.votes(s["id"], undone=True)
    teams = {t["id"]: t for t in c.store.teams(s["id"])}
    out = [f"# Debrief: {s['title']}", "",
           f"*{_when(s['created'])} · session {s['code']} · ensemble of {s['runs']} runs, "
           f"master seed {s['seed']} · {cfg['mode']} vote*", "", "## Teams", ""]
    out += [f"- {t['name']} plays {t['actor']}" for t in teams.values()]
    out += ["", "## Moves, month by month", "",
            "| month | team | move | decided by | votes |", "|---|---|---|---|---|"]
    for m in moves:
        out.append(f"| {month_label(cfg['start'], m['month'])} | {teams[m['team_id']]['name']} "
                   f"| {m['action'] or '(the model played its rule)'} | {m['by']} "
                   f"| {m['counts']} |")
    out += ["", "## Every vote", "", "| month | student | team | vote | undone |",
            "|---|---|---|---|---|"]
    out += [f"| {month_label(cfg['start'], v['month'])} | {v['name']} "
            f"| {teams[v['team_id']]['actor']} | {v['action']} | {'yes' if v['undone'] else ''} |"
            for v in votes]
    if s["month"] > 0:
        out += ["", "## What the model says", "",
                "The class's world against the model playing every actor (same runs, same "
                "seeds):", ""]
        out += [f"- {x}" for x in game.outcome(
            s["id"], cfg["start"], cfg["length"], c.moves(s), c.store.injects(s["id"]),
            s["runs"], s["seed"])]
    ev = core.events()
    held = [t["actor"] for t in teams.values()]
    last = month_label(cfg["start"], cfg["length"] - 1)
    real = ev[ev["actor"].isin(held) & (ev["kind"] == "decision") & (ev["month"] >= cfg["start"])
              & (ev["month"] <= last)].sort_values("month")
    out += ["", "## What the actors really did (documented decisions)", ""]
    out += [f"- **{r.month}** {r.actor} `{r.action}` — “{r.quote}” ({r.outlet})"
            for r in real.itertuples()] or ["- The catalog records no decision in these months."]
    return "\n".join(out)


def debrief_markdown(c: Classroom, code: str, token: str) -> str:
    s = c.teacher(code, token)
    tv = c.teacher_view(code, token)
    if s["kind"] == "lesson":
        preds = [p["prediction"] for p in tv["people"] if p["prediction"] is not None]
        md = _lesson_md(c, s, preds)
        table = student_table(c, code, token)
        md += "\n\n## Every prediction\n\n" + "\n".join(
            f"- {r.name}: {f'{r.prediction:g}' if r.answered else 'no answer'}"
            for r in table.itertuples())
    else:
        md = _game_md(c, s, tv["config"])
    inj = tv["injects"]
    md += "\n\n## Journal\n\n" + "\n".join(f"- {_when(at)} {text}"
                                            for at, text in reversed(tv["journal"]))
    if inj and s["kind"] == "game":
        md += "\n\n## Injected events\n\n" + "\n".join(
            f"- {e.get('actor')} {e.get('action')} in {e.get('date')} "
            f"(severity {e.get('severity', 1)})" for e in inj)
    return md


def debrief_pdf(c: Classroom, code: str, token: str) -> bytes:
    """The markdown debrief typeset as plain text pages (matplotlib's PdfPages), with the class
    histogram against the model's runs for a lesson."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    md = debrief_markdown(c, code, token)
    lines = []
    for raw in md.splitlines():
        lines += textwrap.wrap(raw, 95) or [""]
    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        s = c.teacher(code, token)
        if s["kind"] == "lesson":
            tv = c.teacher_view(code, token)
            preds = [p["prediction"] for p in tv["people"] if p["prediction"] is not None]
            pr = c.lessons[s["ref"]].prediction
            ans = c.answer(s)
            fig, ax = plt.subplots(figsize=(8.27, 4.5))
            bins = np.linspace(pr.lo, pr.hi, 21)
            if ans.per_run is not None:
                ax.hist(ans.per_run, bins=bins, alpha=0.5, label="model runs", density=True)
            if ans.share is not None:
                ax.axvline(ans.share[0], lw=3, label=f"model {ans.share[0]:.0f}{pr.unit}")
            if preds:
                ax.hist(preds, bins=bins, alpha=0.6, label=f"class (n={len(preds)})",
                        density=True)
            ax.set_xlabel(pr.label, fontsize=8)
            ax.legend()
            fig.tight_layout()
            pdf.savefig(fig)
            plt.close(fig)
        for i in range(0, len(lines), 60):
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(0.06, 0.96, "\n".join(lines[i:i + 60]), va="top", ha="left",
                     family="monospace", fontsize=7.5)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()
