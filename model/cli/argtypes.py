"""argparse value types shared by the command-line modules."""

import argparse


def nonneg_int(text: str) -> int:
    """A whole number >= 0 (e.g. a seed: 0 is a seed)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {v}")
    return v


def pos_int(text: str) -> int:
    """A whole number >= 1."""
    v = nonneg_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {v}")
    return v


def unit_interval(text: str) -> float:
    """A number strictly between 0 and 1 (a confidence level, a threshold)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {v}")
    return v
