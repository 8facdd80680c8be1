"""The command line's own behaviour (issue 15): one run says it is one run, `run --bands` and the
long table stream with the same output as before, the run summary keeps no chunk alive, memory
caps and the --workers cap, a posterior with NaN refused by the API too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.analysis.summary import BandsCollector, RunSummary
from model.cli import limits
from model.cli.main import main
from model.engine.paramsets import PosteriorError, load_posterior
from model.engine.results import concat
from model.engine.runner import iter_chunks, simulate
from model.io.errors import ModelInputError
from model.io.longtable import write_long_table
from model.io.paths import DATA, ROOT

HISTORY = str(ROOT / "scenarios" / "history.yaml")
HOSTILE = ROOT / "tests" / "data" / "hostile" / "cli"


def test_one_run_says_so_and_prints_one_column(capsys):
    """`run --set ...` without --runs: one run, its values, not a median and 5-95% that only
    repeat it."""
    assert main(["run", HISTORY, "--set", "forgetting=0.9", "--months", "12"]) == 0
    out = capsys.readouterr().out
    assert "one run: its values" in out
    assert "median" not in out.splitlines()[2]
    header = next(line for line in out.splitlines() if line.startswith("quantity"))
    assert header.split() == ["quantity", "value"]


def test_many_runs_keep_median_and_range(capsys):
    assert main(["run", HISTORY, "--runs", "3", "--months", "12"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("quantity"))
    assert header.split() == ["quantity", "median", "5%", "95%"]


def test_run_summary_keeps_copies_not_views():
    """The summary's per-run values own their memory: no chunk array stays alive through
    them (this pinned every chunk: 2.5 GB at 2,048 runs)."""
    summary = RunSummary()
    for res in iter_chunks(HISTORY, runs=6, seed=1, months=24, chunk=2):
        summary.add(res)
    for parts in dict(summary.values).values():
        assert len(parts) == 3
        for v in parts:
            assert v.base is None
            assert v.flags.owndata


def test_bands_collector_equals_concat_bands():
    chunks = list(iter_chunks(HISTORY, runs=7, seed=2, months=30, chunk=3))
    collect = BandsCollector(7)
    for res in chunks:
        collect.add(res)
    pd.testing.assert_frame_equal(collect.bands(), concat(chunks).bands())
    pd.testing.assert_frame_equal(collect.bands(),
                                  simulate(HISTORY, runs=7, seed=2, months=30).bands())


def test_bands_collector_refuses_more_runs_than_sized():
    collect = BandsCollector(2)
    (res,) = iter_chunks(HISTORY, runs=3, seed=0, months=3, chunk=3)
    with pytest.raises(ValueError, match="more than 2 runs"):
        collect.add(res)


def test_run_bands_file_is_the_ensemble_bands(tmp_path, capsys):
    out = tmp_path / "bands.csv"
    assert main(["run", HISTORY, "--runs", "5", "--months", "18", "--chunk", "2", "--seed",
                 "4", "--bands", str(out)]) == 0
    capsys.readouterr()
    got = pd.read_csv(out)
    want = simulate(HISTORY, runs=5, seed=4, months=18).bands()
    np.testing.assert_allclose(got["q50"], want["q50"])
    np.testing.assert_allclose(got["mean"], want["mean"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_long_table_streamed_by_blocks_is_unchanged(tmp_path, suffix):
    """Block-by-block writing gives the rows, order and types of the chunks' ``to_frame``."""
    chunks = list(iter_chunks(HISTORY, runs=5, seed=3, months=12, chunk=2))
    want = pd.concat([c.to_frame() for c in chunks], ignore_index=True)
    out = tmp_path / f"t{suffix}"
    assert write_long_table(iter(chunks), out) == len(want)
    got = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    if suffix == ".csv":
        want = want.assign(date=want["date"].dt.strftime("%Y-%m-%d"))
        got = got.fillna({"source": "", "target": ""})
    pd.testing.assert_frame_equal(got, want, check_dtype=suffix == ".parquet")


def test_memory_check_states_the_cap_and_how_to_go_bigger(monkeypatch):
    monkeypatch.setenv(limits.LIMIT_ENV, "1")
    with pytest.raises(ModelInputError) as exc:
        limits.check("history-check", 100_000, 60_000.0, "Use fewer --runs")
    msg = str(exc.value)
    assert "--runs 100,000" in msg
    assert "6.0 GB" in msg
    assert "1.0 GB" in msg
    assert "16,666 runs" in msg
    assert limits.LIMIT_ENV in msg
    limits.check("history-check", 1_000, 60_000.0, "Use fewer --runs")  # fits


def test_memory_limit_env_must_be_positive(monkeypatch):
    for bad in ("0", "-1", "inf", "nan", "lots"):
        monkeypatch.setenv(limits.LIMIT_ENV, bad)
        with pytest.raises(ModelInputError, match=limits.LIMIT_ENV):
            limits.limit()
    monkeypatch.setenv(limits.LIMIT_ENV, "32")
    assert limits.limit() == 32_000_000_000


def test_history_check_refuses_above_the_cap_before_any_run(monkeypatch, capsys):
    monkeypatch.setenv(limits.LIMIT_ENV, "0.01")
    from model.engine import runner

    def no_run(*_a, **_k):
        raise AssertionError("ran before the memory check")

    monkeypatch.setattr(runner, "simulate", no_run)
    assert main(["history-check", "--runs", "1000"]) == 2
    assert "in memory" in capsys.readouterr().err


def test_workers_capped_by_memory_and_cores(monkeypatch, capsys):
    monkeypatch.setattr(limits.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(limits, "_available", lambda: 2_000_000_000)
    monkeypatch.setenv(limits.LIMIT_ENV, "100")
    assert limits.workers(16, 200_000_000) == 4          # 2 GB / 0.5 GB per worker
    assert "using 4" in capsys.readouterr().err
    assert limits.workers(3, 200_000_000) == 3           # fits: no note
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(limits.os, "cpu_count", lambda: 2)
    assert limits.workers(3, 1) == 2
    assert "2 core(s)" in capsys.readouterr().err
    assert limits.workers(1, 10**12) == 1                # one process: nothing to cap


def test_steady_allocator_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert limits.steady_allocator() is True


def test_posterior_nan_refused_by_the_api_too(tmp_path):
    """`simulate(params=FILE)` with a NaN in the file: a PosteriorError naming the row, not
    NaN results (it used to give every result NaN, exit 0)."""
    with pytest.raises(PosteriorError, match=r"row 2: expected a finite number, got nan"):
        load_posterior(HOSTILE / "posterior_nan.csv")
    with pytest.raises(PosteriorError, match="finite number"):
        simulate(HISTORY, runs=2, months=3, params=str(HOSTILE / "posterior_text_value.csv"))


def test_posterior_subset_of_columns_works(tmp_path, capsys):
    """The control: a well-formed posterior file (a few of the free parameters) runs."""
    full = pd.read_csv(DATA / "posterior.csv", comment="#")
    path = tmp_path / "post.csv"
    some = [c for c in full.columns if c not in ("distance", "weight")][:2]
    full[[*some, "distance", "weight"]].head(5).to_csv(path, index=False)
    assert main(["run", HISTORY, "--runs", "2", "--months", "6", "--params", str(path)]) == 0
    assert "2 run(s)" in capsys.readouterr().out
