"""The dashboard's computation: scenario text in, cached model results out.

Every cached function takes hashable inputs only (scenario YAML text, run count, seed, names), so
Streamlit's ``st.cache_data`` can key on them; the model runs inside, never in a page. Results
that pages draw are small (quantile bands, shares, tables): the raw run arrays stay in the cache.
"""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import yaml

from model.analysis import robustness, summary
from model.analysis.history import score
from model.analysis.timing import score_timing
from model.core import params as P
from model.core import spec
from model.engine.runner import Results, simulate
from model.inputs.catalog import load_catalog
from model.inputs.scenario import Scenario, from_mapping, month_index
from model.io import access, yamlio
from model.io.errors import ModelInputError
from model.io.paths import ROOT, SCENARIOS

CONTENT = Path(__file__).resolve().parent / "content"
ODD_PATH = ROOT / "docs" / "ODD.md"
HISTORY = "history"
DEFAULT_RUNS = 100
MAX_RUNS = 2000
DEFAULT_SEED = 0
#: Above this many runs the page offers the bands, not every run (use the CLI's --out).
MAX_DOWNLOAD_RUNS = 200
#: A download of every run bigger than this is said with its size, in a warning ...
WARN_DOWNLOAD_BYTES = 20_000_000
#: ... and one bigger than this is not offered as CSV (the Parquet file is ~20x smaller).
MAX_DOWNLOAD_BYTES = 100_000_000
MAX_SEED = 2**31 - 1
QUANTILES = (0.05, 0.5, 0.95)
#: The series the pages show by default, as series keys (see ``series_keys``).
KEY_SERIES = ("trust PAK_MIL->US", "trust US->PAK_MIL", "aid US->PAK_MIL", "aid US->PAK_CIV")
ALL_ACTORS = (*spec.ACTORS, "OTHER")


# ------------------------------------------------------------------------------------ prose
def content(name: str) -> str:
    """The markdown text of ``dashboard/content/NAME`` (prose lives in files, not in code)."""
    return (CONTENT / name).read_text(encoding="utf-8")


# -------------------------------------------------------------------------------- scenarios
def shipped() -> dict[str, Path]:
    """The shipped scenarios (``scenarios/*.yaml``) by name, history first."""
    paths = {p.stem: p for p in sorted(SCENARIOS.glob("*.yaml"))}
    order = sorted(paths, key=lambda n: (n != HISTORY, n))
    return {n: paths[n] for n in order}


@st.cache_data(show_spinner=False)
def shipped_text(name: str) -> str:
    """The YAML text of a shipped scenario."""
    path = shipped().get(name)
    if path is None:
        raise ModelInputError(f"no shipped scenario named {name!r}; "
                              f"expected one of {', '.join(shipped())}")
    return path.read_text(encoding="utf-8")


def history_text() -> str:
    """The YAML text of the documented-history scenario."""
    return shipped_text(HISTORY)


def load_mapping(text: str, file: str = "<scenario>") -> dict:
    """Parse scenario YAML text into a plain mapping (safe YAML, located errors)."""
    return yamlio.loads(text, file).data


def parse(text: str, file: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; raises ``ModelInputError`` (``YamlError`` for text that is
    not YAML, ``ScenarioError`` for YAML that is not a scenario) with ``file:line:col``."""
    doc = yamlio.loads(text, file)
    return from_mapping(doc.data, doc)


def check_upload(name: str, raw: bytes) -> tuple[str | None, str | None]:
    """(text, None) for an uploaded file that is a valid scenario, else (None, message).

    The message is what the command line prints for the same file (``error: FILE:LINE:COL:
    ...``); nothing is written anywhere.
    """
    if b"\x00" in raw:
        return None, f"error: {name}: looks like a binary file (NUL bytes); expected YAML text"
    try:
        text = access.decode(raw, access.SCENARIO, name)     # size limit, then UTF-8
        parse(text, name)
    except ModelInputError as exc:
        return None, f"error: {exc}"
    return text, None


def dump(data: Mapping) -> str:
    """YAML text of a scenario mapping (block style, keys in their given order)."""
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=100)


def edited(base_text: str, *, params: Mapping[str, float] | None = None,
           months: int | None = None, use_catalog: bool | None = None,
           severity: Mapping[str, float] | None = None, exclude: list[str] | None = None,
           events: list[dict] | None = None, interventions: list[dict] | None = None) -> str:
    """The YAML text of a scenario after the What-if edits, validated.

    ``params`` are merged into the scenario's overrides, ``severity``/``exclude`` into its
    catalog use (``use_catalog`` switches the documented shocks on or off; a scenario that
    ``extends`` another gets its own catalog section, which the model merges with the
    parent's), ``events`` and ``interventions`` are appended. An unedited scenario keeps its
    original text, comments included. Raises ``ModelInputError`` with the scenario's located
    message when the result is not valid.
    """
    data = copy.deepcopy(load_mapping(base_text))
    changed = False
    if params:
        merged = {**(data.get("params") or {}), **{k: float(v) for k, v in params.items()}}
        data["params"] = merged
        changed = True
    if months is not None and months != data.get("months"):
        data["months"] = int(months)
        changed = True
    cat = data.get("catalog")
    if use_catalog is False and cat is not None:
        data.pop("catalog")
        cat, changed = None, True
    elif use_catalog and cat is None:
        cat = data["catalog"] = {"kinds": ["shock"]}
        changed = True
    if cat is None and (severity or exclude):
        cat = data["catalog"] = {"kinds": ["shock"]}
    if cat is not None and (severity or exclude):
        sev = {**(cat.get("severity") or {}), **{k: float(v) for k, v in (severity or {}).items()}}
        if sev:
            cat["severity"] = sev
        exc = sorted({*(cat.get("exclude") or []), *(exclude or [])})
        if exc:
            cat["exclude"] = exc
        changed = True
    if events:
        data["events"] = [*(data.get("events") or []), *events]
        changed = True
    if interventions:
        data["interventions"] = [*(data.get("interventions") or []), *interventions]
        changed = True
    text = dump(data) if changed else base_text
    parse(text, "<what-if scenario>")
    return text


def window(text: str) -> tuple[str, int]:
    """(start month, number of months) of a scenario."""
    sc = parse(text)
    return sc.start, sc.months


# --------------------------------------------------------------------------------- ensembles
#: Most bytes of model results kept between reruns, all sessions together. The pages cache
#: only what they show (bands, tables, per-run outcome values); whole ensembles are kept just
#: to save recomputing them across the tabs of a page, and only while they are small.
KEEP_BYTES = 256_000_000
#: An ensemble bigger than this is never kept (e.g. a What-if at the page's maximum): what its
#: page shows is computed from it, then it is freed.
KEEP_ONE_BYTES = 64_000_000


def results_nbytes(res: Results) -> int:
    """Bytes of a Results' arrays."""
    return sum(v.nbytes for v in vars(res).values() if isinstance(v, np.ndarray))


class Kept:
    """Ensembles kept for reuse, least recently used first out, within a byte budget (one
    store shared by the sessions of a server: ``kept``). Kept arrays are read-only, since
    every caller shares them."""

    def __init__(self, budget: int = KEEP_BYTES, one: int = KEEP_ONE_BYTES):
        self.budget, self.one = budget, one
        self.items: OrderedDict[tuple, tuple[Results, int]] = OrderedDict()
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self.items.values())

    def get(self, key: tuple, make: Callable[[], Results]) -> Results:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key][0]
        res = make()
        n = results_nbytes(res)
        if n > self.one:
            return res                      # not kept: freed once its page has used it
        for v in vars(res).values():
            if isinstance(v, np.ndarray):
                v.setflags(write=False)
        with self.lock:
            self.items[key] = (res, n)
            while self.nbytes > self.budget:
                self.items.popitem(last=False)
        return res


@st.cache_resource(show_spinner=False)
def kept() -> Kept:
    """The server's store of kept ensembles (``st.cache_resource.clear()`` empties it)."""
    return Kept()


def ensemble(text: str, runs: int, seed: int) -> Results:
    """``runs`` runs of a scenario under master seed ``seed`` (run i uses its own stream and the
    engine's default parameter sets: its own draw from the calibrated posterior, when one is
    shipped). Kept for reuse only while small (``Kept``); callers must not change it."""
    return kept().get(("free", text, int(runs), int(seed)),
                      lambda: simulate(parse(text), runs=int(runs), seed=int(seed)))


def series_keys() -> dict[str, str]:
    """Every plotted series: key -> readable label with unit.

    Keys: ``trust A->B``, ``aid US->X``, ``state NAME``.
    """
    out = {}
    for a in spec.ACTORS:
        for b in spec.ACTORS:
            if a != b:
                out[f"trust {a}->{b}"] = f"Trust {a} → {b} (0–1)"
    for d, r in spec.AID_FLOWS:
        out[f"aid {d}->{r}"] = f"Aid {d} → {r} ($M/month)"
    for v in spec.STATE_VARS:
        out[f"state {v.name}"] = f"{v.name.replace('_', ' ').capitalize()} ({v.unit})"
    return out


def band_frame(res: Results) -> pd.DataFrame:
    """Median and 5–95% band of every series at every step: the long table the charts draw.

    Columns: series (a key of ``series_keys``), date (first day of the month), q05, q50, q95,
    mean. The numbers are the model's own ``Results.bands()``.
    """
    b = res.bands(QUANTILES)
    pair = b["source"] + "->" + b["target"]
    series = np.where(b["metric"] == "trust", "trust " + pair,
                      np.where(b["metric"] == "aid", "aid " + pair, "state " + b["metric"]))
    return pd.DataFrame({"series": series, "date": b["date"], "q05": b["q05"],
                         "q50": b["q50"], "q95": b["q95"], "mean": b["mean"]})


@st.cache_data(max_entries=32, show_spinner=False)
def bands(text: str, runs: int, seed: int) -> pd.DataFrame:
    """``band_frame`` of a scenario's ensemble."""
    return band_frame(ensemble(text, runs, seed))


@st.cache_data(max_entries=32, show_spinner=False)
def network_arrays(text: str, runs: int, seed: int) -> dict[str, Any]:
    """What the network picture needs at every step: median trust (T+1 x 5 x 5), median aid
    (T+1 x 2), and each actor's most frequent action per month (T x 5) with its share."""
    res = ensemble(text, runs, seed)
    trust = np.median(res.trust.astype(np.float64), axis=0)
    aid = np.median(res.aid.astype(np.float64), axis=0)
    modal = np.zeros((res.months, spec.N_ACTORS), dtype=np.int64)
    share = np.zeros((res.months, spec.N_ACTORS))
    for i in range(spec.N_ACTORS):
        counts = np.apply_along_axis(np.bincount, 0, res.actions[:, :, i].astype(np.int64),
                                     minlength=spec.N_ACTIONS)     # N_ACTIONS x T
        modal[:, i] = counts.argmax(axis=0)
        share[:, i] = counts.max(axis=0) / res.runs
    return {"dates": list(res.dates), "trust": trust, "aid": aid, "modal": modal,
            "share": share}


@st.cache_data(max_entries=16, show_spinner=False)
def history_check(text: str, runs: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history-check tables (documented decisions and documented turns) of an ensemble."""
    sc = score(ensemble(text, runs, seed))
    return sc.decisions, sc.patterns


@st.cache_data(max_entries=16, show_spinner=False)
def history_timing(text: str, runs: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """The timing score of an ensemble (``model.analysis.timing``): one row per documented
    decision (share in its window, base rate, timed, timing error in months, never ...) and the
    summary (timed count, log and Brier scores and skill against both nulls) as a dict."""
    sc = score_timing(ensemble(text, runs, seed))
    return sc.table, sc.summary.to_dict()


def long_table(text: str, runs: int, seed: int, fmt: str) -> bytes:
    """The ensemble's long table (``Results.to_frame``) as CSV or Parquet bytes, for download
    (made when the button is pressed, not cached: it can be large; see ``long_table_size``)."""
    df = ensemble(text, runs, seed).to_frame()
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8")
    return df.to_parquet(index=False, compression="zstd")


@st.cache_data(max_entries=32, show_spinner=False)
def _bytes_per_run(text: str, fmt: str) -> float:
    return len(long_table(text, 4, 0, fmt)) / 4


def long_table_size(text: str, runs: int, fmt: str) -> int:
    """About how many bytes ``long_table`` gives for ``runs`` runs: four runs' table, scaled
    (every run has the same rows)."""
    return int(_bytes_per_run(text, fmt) * int(runs))


def megabytes(n: int) -> str:
    """'138 MB', '0.4 MB'."""
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"


def bands_csv(df: pd.DataFrame) -> bytes:
    """The band table as CSV bytes (dates as YYYY-MM)."""
    out = df.assign(date=pd.to_datetime(df["date"]).dt.strftime("%Y-%m"))
    return out.to_csv(index=False, float_format="%.5g").encode("utf-8")


# ---------------------------------------------------------------------------------- catalog
@st.cache_data(show_spinner=False)
def events() -> pd.DataFrame:
    """The event catalog as a table, plus ``when`` (a timestamp) and the source's title."""
    cat = load_catalog()
    df = cat.frame().copy()
    df["when"] = pd.to_datetime(df["month"], format="%Y-%m")
    df["year"] = df["when"].dt.year
    df["title"] = [cat.sources[s].title if s in cat.sources else s for s in df["source"]]
    df["published"] = [cat.sources[s].published if s in cat.sources else "" for s in df["source"]]
    df["source_kind"] = [cat.sources[s].kind if s in cat.sources else "" for s in df["source"]]
    return df


@st.cache_data(show_spinner=False)
def sources() -> pd.DataFrame:
    """The source records (``model/data/sources.yaml``) as a table."""
    rows = [s.model_dump() for s in load_catalog().sources.values()]
    return pd.DataFrame(rows)


def shocks_in(text: str) -> pd.DataFrame:
    """The catalog's shock events inside a scenario's window (the ones a What-if can toggle)."""
    start, months = window(text)
    df = events()
    df = df[df["kind"] == "shock"]
    idx = [month_index(start, m) for m in df["month"]]
    return df[[0 <= i < months for i in idx]]


def before_branch(sc: Scenario, month: str) -> bool:
    """Whether ``month`` comes before a branch scenario's branch month (its runs are still its
    parent's then: an edit there could have no effect, and the model refuses it)."""
    b = getattr(sc, "branch", None)
    return bool(b) and str(month)[:7] < str(b)[:7]


def removed_by_edits(sc: Scenario) -> set[str]:
    """Ids of the events a scenario's ``edits`` remove (older models have no edits: empty)."""
    return {e.remove for e in getattr(sc, "edits", []) or [] if getattr(e, "remove", None)}


def output_series(sc: Scenario) -> list[str]:
    """A scenario's ``outputs`` as series keys (``public_hostility`` -> ``state
    public_hostility``); unknown names are left out."""
    keys = series_keys()
    out = []
    for item in getattr(sc, "outputs", []) or []:
        key = f"state {item}" if item in spec.STATE_INDEX else str(item)
        key = key.replace(" ->", "->").replace("-> ", "->")
        if key in keys and key not in out:
            out.append(key)
    return out


def window_events(df: pd.DataFrame, start: str, end: str,
                  kinds: tuple[str, ...] = ("shock", "decision")) -> pd.DataFrame:
    """Catalog events of the given kinds between two months (inclusive), in date order."""
    sel = df[df["kind"].isin(kinds) & (df["month"] >= start) & (df["month"] <= end)]
    return sel.sort_values(["month", "id"])


# ------------------------------------------------------------------------------- parameters
def param_groups() -> dict[str, list[P.Param]]:
    """The parameter table by mechanism group, in table order."""
    out: dict[str, list[P.Param]] = {}
    for p in P.table().values():
        out.setdefault(p.group, []).append(p)
    return out


def param_step(p: P.Param) -> float:
    """A slider step for a parameter: about 1/100 of its range, rounded to a 1-2-5 number."""
    span = p.hi - p.lo
    if span <= 0:
        return 1.0
    raw = span / 100
    exp = np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= raw:
            step = m * 10**exp
            break
    # The default must sit on the grid, else the slider would move it.
    while step > 1e-6 and abs(round((p.default - p.lo) / step) * step - (p.default - p.lo)) > 1e-9:
        step /= 10
    return float(step)


def param_source(p: P.Param) -> str:
    """One line naming where a parameter's value comes from."""
    src = p.source
    if hasattr(src, "seed"):
        return f"source {src.seed}: “{src.quote}”"
    return f"reference: {src.ref}"


# ------------------------------------------------------------------------------------- prose
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_MONEY = re.compile(r"\$(?=\d|M\b|M/|bn\b)")


def escape_money(md: str) -> str:
    """Escape the dollar signs of amounts (``$7.5 bn``, ``$M/month``) outside code spans, so
    Streamlit's markdown does not read the text between two of them as LaTeX."""
    parts, last = [], 0
    for m in _CODE_SPAN.finditer(md):
        parts.append(_MONEY.sub(r"\\$", md[last:m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_MONEY.sub(r"\\$", md[last:]))
    return "".join(parts)


def split_sections(md: str, level: int = 2) -> dict[str, str]:
    """A markdown text split at its headings of one level: heading text -> section body.

    Text before the first heading is kept under the key ``""``.
    """
    mark = "#" * level + " "
    out: dict[str, list[str]] = {"": []}
    key = ""
    fence = False
    for line in md.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith(mark):
            key = line[len(mark):].strip()
            out[key] = []
            continue
        out[key].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


@st.cache_data(show_spinner=False)
def odd_sections() -> dict[str, str]:
    """The ODD document (``docs/ODD.md``) by top-level section, money signs escaped."""
    return split_sections(escape_money(ODD_PATH.read_text(encoding="utf-8")))


def fmt_interval(med: float, lo: float, hi: float, digits: int = 2) -> str:
    """``0.21 [0.15, 0.28]``."""
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


# ---------------------------------------------------------------------------------- compare
def design(runs: int, seed: int) -> robustness.Design | None:
    """The parameter sets a comparison shares between A and B (``model.analysis.robustness``:
    ``DEFAULT_SETS`` sets from the calibrated posterior, round-robin over the runs); None where
    no posterior is shipped."""
    return robustness.design(int(runs), int(seed))


def paired_ensemble(text: str, runs: int, seed: int) -> Results:
    """``runs`` runs of a scenario on the comparison ``design``: run i takes set i % K and its
    own random stream, so that two scenarios' runs pair by set and by seed. Kept for reuse
    only while small (``Kept``)."""
    def make() -> Results:
        sc = parse(text)
        d = design(runs, seed)
        return simulate(sc, runs=int(runs), seed=int(seed), params=d.rows(sc) if d else None)

    return kept().get(("paired", text, int(runs), int(seed)), make)


def design_text(runs: int, seed: int) -> str:
    """What a comparison's intervals and robustness labels are over, in words."""
    d = design(runs, seed)
    if d is None:
        return "One parameter set for every run: robustness across parameter sets not measured."
    return (f"Both scenarios run on the same {d.k} parameter sets from the calibrated posterior "
            f"and the same seeds, so intervals are over runs drawn across the sets. Each "
            f"difference is labelled **robust** when it has the same sign in at least "
            f"{robustness.ROBUST_SHARE:.0%} of the sets (each set's mean over its paired runs), "
            f"and **depends on the calibration** otherwise.")


@st.cache_data(max_entries=16, show_spinner=False)
def compare_table(text_a: str, text_b: str, runs: int, seed: int, year: int, pair: str,
                  name_a: str = "A", name_b: str = "B", period: tuple[int, int] | None = None,
                  since: str | None = None) -> pd.DataFrame | None:
    """The standard outcomes of two ensembles over ``period`` (first and last year, clipped to
    the months both cover; default all of them) but not before month ``since`` (e.g. a
    branch's month), and trust of ``pair`` in ``year``, with each difference's robustness
    across the comparison's parameter sets (``paired_ensemble``). None when the runs share no
    month."""
    ra, rb = paired_ensemble(text_a, runs, seed), paired_ensemble(text_b, runs, seed)
    ov = summary.overlap(ra, rb)
    if ov is None:
        return None
    lo, hi = ov
    if period is not None:
        lo, hi = max(lo, f"{int(period[0]):04d}-01"), min(hi, f"{int(period[1]):04d}-12")
        if lo > hi:
            lo, hi = ov
    if since is not None and ov[0] <= since <= hi:
        lo = max(lo, since[:7])
    year = min(max(int(year), int(ov[0][:4])), int(ov[1][:4]))
    return summary.compare_questions(ra, rb, summary.default_questions(lo, hi, year, pair, ov),
                                     name_a, name_b, design=design(runs, seed))


@st.cache_data(max_entries=16, show_spinner=False)
def first_difference(text_a: str, text_b: str, runs: int, seed: int) -> str | None:
    """The first month in which any series' median differs between two ensembles (None if
    they agree everywhere they overlap): where a comparison should look."""
    a, b = bands(text_a, runs, seed), bands(text_b, runs, seed)
    m = a.merge(b, on=["series", "date"], suffixes=("_a", "_b"))
    diff = m[(m["q50_a"] - m["q50_b"]).abs() > 1e-6]
    return None if diff.empty else diff["date"].min().strftime("%Y-%m")


def common_years(text_a: str, text_b: str) -> list[int]:
    """Calendar years that both scenarios' windows touch."""
    from model.inputs.scenario import month_label

    (sa, na), (sb, nb) = window(text_a), window(text_b)
    lo = max(int(sa[:4]), int(sb[:4]))
    hi = min(int(month_label(sa, na)[:4]), int(month_label(sb, nb)[:4]))
    return list(range(lo, hi + 1))


@st.cache_resource(max_entries=4, show_spinner=False)
def explain(text_a: str, text_b: str, runs: int, seed: int) -> tuple[list[str], list[str]] | None:
    """``model.analysis.compare``'s summary and ledger-based reasons, when the model offers it and
    both
    scenarios cover the same months; else None."""
    try:
        from model.analysis import compare as mcompare
    except ImportError:
        return None
    if not hasattr(mcompare, "compare") or window(text_a) != window(text_b):
        return None
    cmp = mcompare.compare(parse(text_a), parse(text_b), runs=int(runs), seed=int(seed))
    return list(cmp.summary), list(cmp.reasons)
