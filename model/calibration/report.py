"""The calibration report: ``reports/calibration.md`` with its PNG plots
(``reports/calibration_*.png``), from a validation fit (targets up to ``SPLIT``) and a fit on all
targets; and the short text summary of one calibration that the command prints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.calibration.fit import Calibration
from model.calibration.identification import (
    IDENTIFIED,
    contraction_line,
    identification,
    provenance,
)
from model.calibration.plots import (
    plot_bands,
    plot_identification,
    plot_marginals,
    plot_pairs,
)
from model.calibration.problem import fingerprint
from model.calibration.scoring import SPLIT, history_runs, split_scores
from model.engine.paramsets import Posterior
from model.io import atomic

VAL = f"posterior (fit .. {SPLIT})"
#: The rolling-origin section of reports/calibration.md lies between these lines; ``--rolling``
#: replaces it there (``update_rolling``) and ``--report`` keeps it (``write_report``).
ROLLING_BEGIN = "<!-- rolling-origin: written by python -m model calibrate --rolling -->"
ROLLING_END = "<!-- /rolling-origin -->"
FULL = "posterior (fit on all)"


def summary_text(cal: Calibration) -> str:
    """Runs, generations (ABC-SMC: tolerance, ESS) or waves (history matching: NROY counts,
    orders, populations, ABC step) of one calibration."""
    s = cal.settings
    lines = [f"calibration ({'ABC-SMC' if cal.method == 'smc' else 'history matching + ABC'}): "
             f"{s.total_runs:,} runs in {cal.seconds:.0f} s, "
             f"{len(cal.names)} free parameters, {len(cal.problem.targets)} targets"
             + (f" (up to {s.until})" if s.until else "")]
    if cal.method == "smc":
        for r in cal.generations:
            moves = 1 if r["generation"] == 0 else s.moves
            lines.append(f"  generation {r['generation']}: {moves} x {s.per_generation} "
                         f"particles x {s.smc_replicates} runs, eps {r['eps']:.3f}, ESS "
                         f"{r['ess']:.0f}, moves accepted {r['accept_rate']:.2f}, distinct "
                         f"{r['distinct']}, distance min {r['dist_min']:.3f} median "
                         f"{r['dist_median']:.3f}, NROY {cal.nroy_at_cutoff[r['batch']]}")
    else:
        for w in range(s.waves):
            lines.append(f"  wave {w}: {s.points_per_wave} points x {s.replicates} runs, "
                         f"NROY at order {s.order}: {cal.nroy_at_cutoff[w]}, order used "
                         f"{cal.orders[w]}, pool {cal.nroy[w]}")
    d = cal.cand_dist[cal.accepted]
    lines.append(f"  posterior: {len(cal.accepted)} sets, distance {d.min():.3f} .. "
                 f"{d.max():.3f}, ESS {cal.ess:.1f}"
                 + (f" ({s.candidates} candidates x {s.final_replicates} fresh runs)"
                    if cal.method == "hm" else ""))
    return "\n".join(lines)


def _md_table(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append(format(v, floatfmt))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _decision_table(scores: Mapping[str, dict], split: str = SPLIT) -> pd.DataFrame:
    """One row per documented decision: its share under each parameter source."""
    frames = []
    for label, sc in scores.items():
        d = sc["all"].decisions[["id", "action", "documented", "share"]].copy()
        d = d.rename(columns={"share": label})
        frames.append(d.set_index(["id", "action", "documented"]))
    tab = pd.concat(frames, axis=1).reset_index()
    tab.insert(3, "period", np.where(tab["documented"] <= split, "in", "out"))
    return tab


def _check_section(scores: Mapping[str, dict], runs: int, seed: int) -> list[str]:
    """History check in and out of sample: counts, turns, decisions, two full tables."""
    lines = ["## History check in and out of sample", "",
             f"`history-check` scores ({runs} history runs, seed {seed}; a decision is "
             "reproduced when its actor makes it within +-6 months in more than half of the "
             f"runs). In sample: documented decisions up to {SPLIT}; out of sample: after. "
             "The posterior of the fit up to 2011 has seen only the in-sample targets.", "",
             "| parameters | in sample | out of sample | all |", "|---|---|---|---|"]
    for label, s in scores.items():
        lines.append(f"| {label} | {s['in'].reproduced}/{s['in'].total} | "
                     f"{s['out'].reproduced}/{s['out'].total} | "
                     f"{s['all'].reproduced}/{s['all'].total} |")
    lines += ["", "Documented turns (share of runs showing the turn):", "",
              "| parameters | " + " | ".join(p for p in scores["table defaults"]["all"]
                                               .patterns["id"]) + " |",
              "|---|" + "---|" * len(scores["table defaults"]["all"].patterns)]
    for label, s in scores.items():
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in
                                                  s["all"].patterns["share"]) + " |")
    lines += ["", "### Decision reproduction (share of runs within +-6 months)", "",
              _md_table(_decision_table(scores)), ""]
    lines += ["### history-check table, posterior fitted up to 2011, scored after 2011", "",
              "```", scores[VAL]["out"].text(), "```", ""]
    lines += ["### history-check table, posterior fitted on all targets", "", "```",
              scores[FULL]["all"].text(), "```", ""]
    return lines


def _targets_section(full: Calibration) -> list[str]:
    """Each target's documented value, posterior mean and best set's value and implausibility."""
    ts = full.problem.targets
    best = full.accepted[0]
    wmean = (full.cand_mean[full.accepted] * full.weights[:, None]).sum(axis=0)
    imp = TG.implausibility(full.cand_mean[best: best + 1], full.cand_var[best: best + 1],
                            full.final_reps, ts)[0]
    tdf = pd.DataFrame({"target": ts.ids, "z": ts.z, "posterior mean": wmean,
                        "best set": full.cand_mean[best], "I (best)": imp})
    return ["## Targets (fit on all)", "",
            "z: documented value; decisions and turns are shares of runs (z = 1); counts are "
            "months with the action (one-sided: only an excess counts); figures in $M. "
            "I: implausibility of the best set (cut-off 3).", "",
            _md_table(tdf), ""]


_PLOTS = ["## Plots", "",
          "Prior vs posterior marginals:", "", "![marginals](calibration_marginals.png)", "",
          "Most correlated pairs:", "", "![pairs](calibration_pairs.png)", "",
          "Simulated trust and aid against the documented timeline:", "",
          "![bands](calibration_bands.png)", "",
          "Contraction per parameter (posterior sd / prior sd):", "",
          "![identification](calibration_identification.png)", ""]


def _identification_section(val: Calibration, full: Calibration, ident: pd.DataFrame
                            ) -> list[str]:
    """Which parameters the events identify, with the targets each is calibrated from."""
    ident_val = identification(val)
    prov = provenance(full)
    idd = ident[ident["identified"]].sort_values("sd_ratio")
    notid = ident[~ident["identified"]].sort_values("sd_ratio")
    honest = ("ABC-SMC keeps equal weights and moves its particles by Metropolis-Hastings "
              "steps that leave the prior restricted to each tolerance invariant, so the "
              "weighted sets (weights: copies after resampling) sample the prior restricted to "
              "the final tolerance: the contraction measures what the targets identify."
              if full.method == "smc" else
              "The accepted sets lie where the search concentrated its points (a local search "
              "around its best region, not a sample of everything the targets allow), so the "
              "spread understates parameter uncertainty and 'identified' is an upper bound.")
    lines = ["## What the events identify", "",
             f"ESS of the posterior weights: {full.ess:.1f} of {len(full.accepted)} sets "
             f"(fit on all), {val.ess:.1f} (fit up to {SPLIT}). Contraction: posterior sd / "
             f"prior sd; a parameter counts as identified when its contraction is at most "
             f"{IDENTIFIED}. {contraction_line(ident)}. {honest} The KS column is the "
             "Kolmogorov-Smirnov distance of the posterior from the uniform prior. The "
             "provenance column says which targets move the parameter across the whole prior "
             "(the first wave or generation).", ""]
    top_prov = (prov.assign(a=prov["strength"].abs()).sort_values("a", ascending=False)
                .groupby("parameter").head(3).groupby("parameter")["target"]
                .apply(", ".join))
    for title, df in ((f"Identified (contraction <= {IDENTIFIED})", idd),
                      ("Not identified", notid)):
        show = df[["parameter", "default", "post_mean", "post_sd", "contraction", "ks"]].copy()
        show["calibrated from"] = [top_prov.get(n, "") for n in show["parameter"]]
        lines += [f"### {title} ({len(df)})", "", _md_table(show), ""]
    vid = set(ident_val[ident_val["identified"]]["parameter"])
    lines += [f"Identified already by the targets up to {SPLIT}: "
              f"{len(vid & set(idd['parameter']))} of {len(idd)}.", ""]
    return lines


def _signed(v: float) -> str:
    return "-" if pd.isna(v) else f"{v:+.3f}"


def rolling_lines(table: pd.DataFrame) -> list[str]:
    """The rolling-origin table (``model.calibration.rolling``) as markdown: per cut, the
    decisions after it and how many are timed, the skill against each null, and the in-sample
    figures of the same fit."""
    show = pd.DataFrame({
        "cut": table["cut"].astype(str),
        "decisions after": table["decisions_after"],
        "timed after": table["timed_after"],
        "log-lift vs freq": table["log_lift_freq_after"].map(_signed),
        "log-lift vs shock": table["log_lift_shock_after"].map(_signed),
        "Brier skill vs freq": table["brier_skill_freq_after"].map(_signed),
        "Brier skill vs shock": table["brier_skill_shock_after"].map(_signed),
        "in sample: timed": [f"{t}/{n}" for t, n in zip(table["timed_in"],
                                                        table["decisions_in"], strict=True)],
        "in: log-lift vs freq": table["log_lift_freq_in"].map(_signed),
        "in: Brier skill vs freq": table["brier_skill_freq_in"].map(_signed),
        "ESS": table["ess"].map(lambda v: f"{v:.1f}"),
    })
    return [_md_table(show)]


def rolling_section(table: pd.DataFrame) -> list[str]:
    """The report's section on the rolling origin, between ``ROLLING_BEGIN`` and
    ``ROLLING_END``."""
    cuts = ",".join(table["cut"].astype(str))
    runs, seed, budget = (int(table[c].iloc[0]) for c in ("runs", "seed", "budget"))
    return [ROLLING_BEGIN, "## Out of sample: rolling origin", "",
            f"Generated by `python -m model calibrate --rolling --cuts {cuts} --seed {seed} "
            f"--runs {runs}` (budget {budget:,} runs per fit, code {fingerprint()}). For each "
            "cut: the calibration on the targets up to the cut (as `calibrate --until CUT`, "
            f"from the prior), {runs} history runs with its posterior (seed {seed}), and the "
            "timing score (`docs/scoring.md`) of the documented decisions after the cut (out of "
            "sample) and up to it (in sample). Timed: made inside the window in at least half "
            "of the runs and 25 points above the base rate. Skill > 0: the model puts more "
            "probability on the documented decisions at their documented months than the "
            "frequency null (base rates) or the shock-response null.", "",
            *rolling_lines(table), "", ROLLING_END]


def update_rolling(path: Path, table: pd.DataFrame) -> Path:
    """Put the rolling-origin section into the report at ``path``: in place of the previous
    one, else at the end (a new report holds only it)."""
    section = "\n".join(rolling_section(table))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = "# Calibration report\n"
    head, sep, rest = text.partition(ROLLING_BEGIN)
    if sep and ROLLING_END in rest:
        text = head + section + rest.split(ROLLING_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    return atomic.write_text(path, text)


def _kept_rolling(path: Path) -> list[str]:
    """The rolling-origin section of the report at ``path`` (kept when the report is written
    again without a new table), or nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    _, sep, rest = text.partition(ROLLING_BEGIN)
    if not sep or ROLLING_END not in rest:
        return []
    return [ROLLING_BEGIN + rest.split(ROLLING_END, 1)[0] + ROLLING_END, ""]


def write_report(val: Calibration, full: Calibration, dest: Path, runs: int = 200,
                 seed: int = 0, rolling: pd.DataFrame | None = None) -> Path:
    """reports/calibration.md and its PNG plots (reports/calibration_*.png); with the
    rolling-origin table ``rolling``, its section (else the section already in the report)."""
    dest.mkdir(parents=True, exist_ok=True)
    res = {
        "table defaults": history_runs(None, runs, seed),
        VAL: history_runs(Posterior(frame=val.posterior_frame(), path=Path("until")), runs,
                          seed),
        FULL: history_runs(Posterior(frame=full.posterior_frame(), path=Path("full")), runs,
                           seed),
    }
    scores = {k: split_scores(r) for k, r in res.items()}
    ident = identification(full)
    plot_marginals(full, ident, dest / "calibration_marginals.png")
    plot_identification(ident, dest / "calibration_identification.png")
    plot_bands(res, dest / "calibration_bands.png")
    _, pairs = plot_pairs(full, dest / "calibration_pairs.png")
    lines = ["# Calibration report", "",
             "Generated by `python -m model calibrate --report` "
             f"(seed {full.settings.seed}, budget {full.settings.budget:,} runs per fit, code "
             f"{fingerprint()}). Method, targets and tolerances: `docs/calibration.md`; "
             "settings: `model/data/calibration.yaml`.", ""]
    lines += ["## Runs", "", "```", summary_text(val), "", summary_text(full), "```", ""]
    lines += _check_section(scores, runs, seed)
    lines += _targets_section(full)
    lines += _PLOTS
    lines += _identification_section(val, full, ident)
    lines += ["## Most correlated posterior pairs", "",
              _md_table(pd.DataFrame(pairs, columns=["a", "b", "r"])), ""]
    path = dest / "calibration.md"
    if rolling is not None and len(rolling):
        lines += [*rolling_section(rolling), ""]
    else:
        lines += _kept_rolling(path)
    return atomic.write_text(path, "\n".join(lines) + "\n")
