"""The named symbols every bound is written in, one per entry of `bounds.registry` (settings and constants).

A bound is a sympy expression in these symbols; `derive.spec_values` maps a spec to numbers for them. Dimensions
and widths stay plain integers (they fix the architecture); everything a user sweeps is a symbol. Each symbol is a
module attribute of the registry's name (`S.B`, `S.C_gamma`, `S.L`, ...).
"""
from __future__ import annotations

import sympy as sp

from .registry import CONSTANTS, SETTINGS


def _symbol(setting) -> sp.Symbol:
    return sp.Symbol(setting.name, **setting.assumptions)


globals().update({setting.name: _symbol(setting) for setting in SETTINGS + CONSTANTS})

r = sp.Symbol("r", nonnegative=True, real=True)  # ||eps||, integrated out by `rpoly` (not a setting)


def layer_norm_symbol(i: int) -> sp.Symbol:
    """omega_i: bound on the operator norm of weight matrix i (per-layer norm bounds)."""
    return sp.Symbol(f"omega_{i}", positive=True, real=True)


def bias_norm_symbol(i: int) -> sp.Symbol:
    """b_i: bound on the Euclidean norm of bias vector i (per-layer norm bounds)."""
    return sp.Symbol(f"b_{i}", nonnegative=True, real=True)
