"""Per-run random streams, compiled and parallel, bit for bit numpy's.

Run ``i`` under master seed ``S`` draws from ``np.random.Generator(np.random.PCG64(
np.random.SeedSequence(S, spawn_key=(i, *key))))``: its decision draws are that generator's
``random((months, actors))`` (``key=()``) and its posterior draw is its first ``random()``
(``key=(1,)``). Drawing them one numpy generator per run costs about 12 µs of Python per run;
here the same numbers are computed in compiled code, in parallel over runs. numpy offers no
vectorised way to seed many generators, so its algorithms are restated here, from numpy's sources
(``numpy/random/bit_generator.pyx``, ``_pcg64.pyx``, ``src/pcg64/pcg64.h``,
``src/distributions``):

- ``SeedSequence``: the entropy (the seed's 32-bit words, lowest first, zero-padded to the pool
  size of 4 when a spawn key is given) followed by the spawn key's words is hashed into a pool of
  four 32-bit words (``mix_entropy``); ``generate_state(4, np.uint64)`` hashes the pool, cycled,
  into eight words, read in little-endian pairs as four 64-bit words.
- ``PCG64(seed_seq)``: those words are the 128-bit initial state (words 0, 1: high, low) and
  sequence (words 2, 3); ``pcg_setseq_128_srandom_r`` sets ``inc = seq << 1 | 1``, steps once,
  adds the initial state and steps again. A step is the 128-bit LCG ``state * M + inc``; an output
  is XSL-RR: ``rotr64(high ^ low, high >> 58)`` of the stepped state.
- ``random()``: ``(next_uint64 >> 11) * 2**-53``, filled in C order.

The 128-bit arithmetic is done on 64-bit halves. ``tests/core/test_rng.py`` checks every number
against numpy. Seeds may be any non-negative integer; run ids and key words are below ``2**63``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np

from model.core.jit import njit

__all__ = ["choice_indices", "entropy_words", "fill_uniforms", "first_uniforms"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_U64 = np.uint64
_M32 = _U64(0xFFFFFFFF)
_S16 = _U64(16)
_S32 = _U64(32)
#: SeedSequence's hash constants (``bit_generator.pyx``) and its pool size.
_INIT_A = _U64(0x43B0D7E5)
_MULT_A = _U64(0x931E8875)
_INIT_B = _U64(0x8B51F9DD)
_MULT_B = _U64(0x58F38DED)
_MIX_MULT_L = _U64(0xCA01F9DD)
_MIX_MULT_R = _U64(0x4973F715)
POOL_SIZE = 4
#: PCG64's 128-bit multiplier (``PCG_DEFAULT_MULTIPLIER_128``), high and low halves.
_PCG_MULT_HI = _U64(2549297995355413924)
_PCG_MULT_LO = _U64(4865540595714422341)
_TWO_M53 = 1.0 / 9007199254740992.0


def entropy_words(value: int) -> np.ndarray:
    """The 32-bit words of a non-negative integer, lowest first (``[0]`` for 0), as numpy's
    ``SeedSequence`` reads an integer seed or spawn-key entry."""
    v = int(value)
    if v < 0:
        raise ValueError(f"seed must be >= 0, got {value}")
    words = [v & 0xFFFFFFFF]
    v >>= 32
    while v:
        words.append(v & 0xFFFFFFFF)
        v >>= 32
    return np.array(words, dtype=np.uint32)


def _seed_prefix(seed: int, key: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(seed words zero-padded to the pool size, as a spawn key requires; key words)."""
    head = entropy_words(seed).astype(np.uint64)
    if len(head) < POOL_SIZE:
        head = np.concatenate([head, np.zeros(POOL_SIZE - len(head), dtype=np.uint64)])
    tail = [entropy_words(k).astype(np.uint64) for k in key]
    return head, (np.concatenate(tail) if tail else np.zeros(0, dtype=np.uint64))


def _run_ids(runs: Sequence[int]) -> np.ndarray:
    ids = np.asarray(runs)
    if ids.size and ids.dtype.kind not in "iu":
        ids = ids.astype(np.int64)
    if ids.size and int(ids.min()) < 0:
        raise ValueError(f"run ids must be >= 0, got {int(ids.min())}")
    return ids.astype(np.uint64).reshape(-1)


@njit(**_JIT, inline="always")
def _hashmix(value, hash_const):
    """SeedSequence's ``hashmix``; returns (value, new hash constant), all 32-bit."""
    value = (value ^ hash_const) & _M32
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _S16), hash_const


@njit(**_JIT, inline="always")
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _M32
    return result ^ (result >> _S16)


@njit(**_JIT)
def _pool(entropy, pool):
    """SeedSequence's ``mix_entropy`` of ``entropy`` (32-bit words in uint64) into ``pool``."""
    h = _INIT_A
    n = pool.shape[0]
    for i in range(n):
        pool[i], h = _hashmix(entropy[i] if i < entropy.shape[0] else _U64(0), h)
    for i_src in range(n):
        for i_dst in range(n):
            if i_src != i_dst:
                v, h = _hashmix(pool[i_src], h)
                pool[i_dst] = _mix(pool[i_dst], v)
    for i_src in range(n, entropy.shape[0]):
        for i_dst in range(n):
            v, h = _hashmix(entropy[i_src], h)
            pool[i_dst] = _mix(pool[i_dst], v)


@njit(**_JIT, inline="always")
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two 64-bit words."""
    a_lo, a_hi = a & _M32, a >> _S32
    b_lo, b_hi = b & _M32, b >> _S32
    t = a_lo * b_lo
    u = a_hi * b_lo + (t >> _S32)
    w = (u & _M32) + a_lo * b_hi
    return a_hi * b_hi + (u >> _S32) + (w >> _S32)


@njit(**_JIT, inline="always")
def _step(s_hi, s_lo, i_hi, i_lo):
    """One PCG64 LCG step, ``state * M + inc`` mod 2**128, on (high, low) halves."""
    hi = _mulhi(s_lo, _PCG_MULT_LO) + s_hi * _PCG_MULT_LO + s_lo * _PCG_MULT_HI
    lo = s_lo * _PCG_MULT_LO
    lo2 = lo + i_lo
    carry = _U64(1) if lo2 < lo else _U64(0)
    return hi + i_hi + carry, lo2


@njit(**_JIT, inline="always")
def _output(s_hi, s_lo):
    """PCG64's XSL-RR output of a state: ``rotr64(high ^ low, high >> 58)``."""
    v = s_hi ^ s_lo
    rot = s_hi >> _U64(58)
    return (v >> rot) | (v << ((_U64(64) - rot) & _U64(63)))


@njit(**_JIT)
def _seeded(head, run, tail, entropy, pool):
    """The PCG64 (state high, low, inc high, low) of ``SeedSequence(seed, spawn_key=(run, *key))``
    with ``head``/``tail`` from ``_seed_prefix``; ``entropy`` and ``pool`` are scratch."""
    n = head.shape[0]
    entropy[:n] = head
    entropy[n] = run & _M32
    n += 1
    if run >> _S32:
        entropy[n] = run >> _S32
        n += 1
    entropy[n:n + tail.shape[0]] = tail
    _pool(entropy[:n + tail.shape[0]], pool)
    # generate_state(4, uint64): eight hashed pool words, paired little-endian.
    h = _INIT_B
    words = np.empty(4, dtype=np.uint64)
    for i in range(8):
        d = (pool[i % POOL_SIZE] ^ h) & _M32
        h = (h * _MULT_B) & _M32
        d = (d * h) & _M32
        d ^= d >> _S16
        if i % 2 == 0:
            words[i // 2] = d
        else:
            words[i // 2] |= d << _S32
    # pcg_setseq_128_srandom_r(state=(w0, w1), seq=(w2, w3)).
    i_hi = (words[2] << _U64(1)) | (words[3] >> _U64(63))
    i_lo = (words[3] << _U64(1)) | _U64(1)
    s_hi, s_lo = _step(_U64(0), _U64(0), i_hi, i_lo)
    lo = s_lo + words[1]
    s_hi = s_hi + words[0] + (_U64(1) if lo < s_lo else _U64(0))
    s_hi, s_lo = _step(s_hi, lo, i_hi, i_lo)
    return s_hi, s_lo, i_hi, i_lo


@njit(**_JIT, parallel=True)
def _fill(head, runs, tail, out):
    """``out[k]`` (any shape, C order) = the first ``out[k].size`` doubles of run ``runs[k]``."""
    n_runs = runs.shape[0]
    flat = out.reshape(n_runs, -1)
    size = flat.shape[1]
    n_ent = head.shape[0] + 2 + tail.shape[0]
    for k in nb.prange(n_runs):
        entropy = np.empty(n_ent, dtype=np.uint64)
        pool = np.empty(POOL_SIZE, dtype=np.uint64)
        s_hi, s_lo, i_hi, i_lo = _seeded(head, runs[k], tail, entropy, pool)
        row = flat[k]
        for j in range(size):
            s_hi, s_lo = _step(s_hi, s_lo, i_hi, i_lo)
            row[j] = np.float64(_output(s_hi, s_lo) >> _U64(11)) * _TWO_M53


def fill_uniforms(seed: int, runs: Sequence[int], out: np.ndarray,
                  key: Sequence[int] = ()) -> np.ndarray:
    """Fill the C-contiguous float64 ``out`` (leading axis: one row per run id) with each run's
    uniforms in [0, 1): ``out[k]`` is ``Generator(PCG64(SeedSequence(seed, spawn_key=(runs[k],
    *key)))).random(out.shape[1:])``, bit for bit; in parallel over runs. Returns ``out``."""
    ids = _run_ids(runs)
    if out.dtype != np.float64 or not out.flags.c_contiguous or out.shape[:1] != ids.shape:
        raise ValueError("out must be C-contiguous float64 with one row per run id")
    head, tail = _seed_prefix(seed, key)
    if ids.size and out.size:
        _fill(head, ids, tail, out)
    return out


def first_uniforms(seed: int, runs: Sequence[int], key: Sequence[int] = ()) -> np.ndarray:
    """Each run's first ``random()`` from ``SeedSequence(seed, spawn_key=(run, *key))``."""
    ids = _run_ids(runs)
    return fill_uniforms(seed, ids, np.empty((len(ids), 1)), key)[:, 0]


def choice_indices(seed: int, runs: Sequence[int], cdf: np.ndarray,
                   key: Sequence[int] = (1,)) -> np.ndarray:
    """Each run's index drawn by the cumulative weights ``cdf`` (non-decreasing, last 1) with
    its stream's first uniform, as ``Generator.choice(len(cdf), p=p)`` does it: the index is
    ``cdf.searchsorted(u, side="right")`` (numpy's own search, so ties resolve as there)."""
    u = first_uniforms(seed, runs, key)
    return np.asarray(cdf).searchsorted(u, side="right").astype(np.int64)
