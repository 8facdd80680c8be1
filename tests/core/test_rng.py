"""Unit layer: the compiled per-run streams (``model.core.rng``) are numpy's, bit for bit.

The references are the engine's former numpy implementations, one generator per run: the
decision draws ``Generator(PCG64(SeedSequence(seed, spawn_key=(run,)))).random((months,
actors))`` and the posterior index ``choice(n, p=p)`` from ``SeedSequence(seed, spawn_key=(run,
1))``. Floats are compared as their 64-bit patterns.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.core import rng, spec
from model.engine.paramsets import draw_index
from model.engine.runner import draw_uniforms

SEEDS = (0, 1, 7, 2**32 - 1, 2**32, 2**32 + 5, 2**63 - 1, 2**64 - 1, 2**64, 2**127 + 3, 2**200)
RUNS = (0, 1, 2, 1023, 2**32 - 1, 2**32, 10**6, 2**40 + 3, 2**63 - 1)


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def numpy_uniforms(seed: int, runs, months: int, actors: int = spec.N_ACTORS) -> np.ndarray:
    """The former ``runner.draw_uniforms``: one numpy generator per run."""
    out = np.empty((len(runs), months, actors))
    for k, i in enumerate(runs):
        out[k] = stream(seed, i).random((months, actors))
    return out


def numpy_index(seed: int, runs, weights) -> np.ndarray:
    """The former ``paramsets.draw_index``: normalised cumulative weights, one uniform per run
    from its stream ``(run, 1)``, looked up with ``searchsorted(side="right")``."""
    p = np.asarray(weights, dtype=float)
    p = p / p.sum()
    cdf = p.cumsum()
    cdf /= cdf[-1]
    u = np.array([stream(seed, i, 1).random() for i in runs])
    return cdf.searchsorted(u, side="right").astype(np.int64)


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a.view(np.uint64), b.view(np.uint64))


@pytest.mark.parametrize("seed", SEEDS)
def test_uniforms_are_numpys_for_each_seed_and_run(seed):
    got = rng.fill_uniforms(seed, RUNS, np.empty((len(RUNS), 37, spec.N_ACTORS)))
    assert_bits_equal(got, numpy_uniforms(seed, RUNS, 37))


def test_uniforms_are_numpys_for_every_month_count_up_to_300():
    runs = [0, 1, 1023, 10**6, 2**40 + 3]
    for months in range(1, 301):
        seed = (0, 1, 7, 2**32 + 5, 2**63 - 1)[months % 5]
        got = rng.fill_uniforms(seed, runs, np.empty((len(runs), months, spec.N_ACTORS)))
        assert_bits_equal(got, numpy_uniforms(seed, runs, months))


@given(seed=st.integers(0, 2**160), runs=st.lists(st.integers(0, 2**63 - 1), max_size=6),
       months=st.integers(1, 40), actors=st.integers(1, 7))
def test_uniforms_are_numpys_for_random_seeds(seed, runs, months, actors):
    got = rng.fill_uniforms(seed, runs, np.empty((len(runs), months, actors)))
    assert_bits_equal(got, numpy_uniforms(seed, runs, months, actors))


@given(seed=st.integers(0, 2**128), key=st.lists(st.integers(0, 2**40), max_size=3))
def test_first_uniform_of_any_spawn_key_is_numpys(seed, key):
    want = np.array([stream(seed, r, *key).random() for r in RUNS])
    assert_bits_equal(rng.first_uniforms(seed, RUNS, key), want)


def test_streams_differ_by_seed_run_and_key():
    base = rng.first_uniforms(0, range(50))
    assert len(set(base)) == 50
    assert not np.array_equal(base, rng.first_uniforms(1, range(50)))
    assert not np.array_equal(base, rng.first_uniforms(0, range(50), (1,)))


def test_run_order_and_batch_do_not_matter():
    whole = rng.fill_uniforms(3, range(20), np.empty((20, 6, 5)))
    rev = rng.fill_uniforms(3, range(19, -1, -1), np.empty((20, 6, 5)))
    assert_bits_equal(rev[::-1].copy(), whole)
    assert_bits_equal(rng.fill_uniforms(3, [7], np.empty((1, 6, 5)))[0], whole[7])


@pytest.mark.parametrize("bad", [-1, -(2**40)])
def test_negative_seed_or_run_is_refused(bad):
    with pytest.raises(ValueError, match=">= 0"):
        rng.first_uniforms(bad, [0])
    with pytest.raises(ValueError, match=">= 0"):
        rng.first_uniforms(0, [0, bad])
    with pytest.raises(ValueError, match=">= 0"):
        draw_uniforms(bad, [0], 3)


def test_out_must_fit():
    with pytest.raises(ValueError, match="one row per run"):
        rng.fill_uniforms(0, [0, 1], np.empty((3, 2, 5)))
    with pytest.raises(ValueError, match="float64"):
        rng.fill_uniforms(0, [0], np.empty((1, 2, 5), dtype=np.float32))


def test_empty_batches():
    assert rng.fill_uniforms(0, [], np.empty((0, 4, 5))).shape == (0, 4, 5)
    assert rng.choice_indices(0, [], np.array([1.0])).shape == (0,)


@pytest.mark.parametrize("seed", [0, 7, 2**63 - 1])
def test_engine_draws_are_the_former_numpy_draws(seed):
    runs = [*range(40), 1023, 10**6, 2**40 + 3]
    assert_bits_equal(draw_uniforms(seed, runs, 24), numpy_uniforms(seed, runs, 24))
    assert_bits_equal(draw_uniforms(seed, range(5, 9), 240), numpy_uniforms(seed, range(5, 9), 240))


WEIGHTS = [
    np.array([1.0]),
    np.array([0.0, 0.0, 1.0, 0.0]),  # one-hot
    np.array([1.0, 0.0, 0.0]),
    np.array([0.0, 0.0, 0.0, 5.0]),
    np.array([0.2, 0.0, 0.3, 0.0, 0.5]),  # zeros between
    np.array([1e-300, 1.0, 1e-300]),
    np.full(1000, 0.001),
]


@pytest.mark.parametrize("w", WEIGHTS, ids=range(len(WEIGHTS)))
def test_posterior_index_is_numpys(w):
    runs = [*range(200), 1023, 10**6, 2**40 + 3]
    for seed in (0, 1, 2**32 + 5, 2**63 - 1):
        got = draw_index(seed, runs, w)
        np.testing.assert_array_equal(got, numpy_index(seed, runs, w))
        assert got.dtype == np.int64
        assert np.all(w[got] > 0)  # a set of weight zero is never drawn


@given(seed=st.integers(0, 2**64), runs=st.lists(st.integers(0, 2**50), min_size=1, max_size=20),
       w=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=30)
       .filter(lambda v: sum(v) > 0))
def test_posterior_index_is_numpys_for_random_weights(seed, runs, w):
    np.testing.assert_array_equal(draw_index(seed, runs, np.array(w)),
                                  numpy_index(seed, runs, w))


def test_posterior_index_is_numpys_choice():
    w = np.array([3.0, 0.0, 1.0, 6.0])
    p = w / w.sum()
    want = [stream(11, i, 1).choice(len(p), p=p) for i in range(100)]
    np.testing.assert_array_equal(draw_index(11, range(100), w), want)
