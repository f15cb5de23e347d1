"""Benchmark: deriving every bound of a spec from scratch, evaluating one bound at 1,000,000 settings, and compiling
the paper's CIFAR-100 net's L_P (the project's lambdify settings against sympy's defaults, as a ratio in one run).

Targets: derivation < 5 s; >= 1e7 settings per second, equal to sympy's values to 1e-9; the speed-up over sympy's
point-by-point evaluation (xreplace + evalf) is reported as a ratio measured in the same run.
Run: make bench   (or: python benchmarks/bench_bounds.py [--points N])
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import sympy as sp
from sympy.core.cache import clear_cache

from bounds import derive as D
from bounds.spec import ModelSpec, ObjectiveSpec, VAESpec, default_spec


def derive_from_scratch(spec: VAESpec) -> float:
    clear_cache()
    D._pieces_of.cache_clear()
    t0 = time.perf_counter()
    D.derive_all(spec)
    return time.perf_counter() - t0


def compile_paper_net() -> None:
    """Compile the CIFAR-100 preset's L_P twice: with sympy's defaults (cse=True) and as `Bound` compiles it; the
    two functions must agree."""
    from bounds.bound import _compile
    from bounds.presets import paper_image_spec
    spec = paper_image_spec("cifar100")
    bound = D.smoothness(spec, allow_outside_theory=True)
    args, expr = tuple(bound.symbols), bound.expr
    values = D.spec_values(spec, allow_outside_theory=True)
    point = [values[x.name] for x in args]
    t0 = time.perf_counter()
    default = sp.lambdify(args, expr, modules="numpy", cse=True)
    t_default = time.perf_counter() - t0
    _compile.cache_clear()
    t0 = time.perf_counter()
    ours = _compile(args, expr)
    t_ours = time.perf_counter() - t0
    assert np.isclose(float(default(*point)), float(ours(*point)), rtol=1e-12)
    print(f"compiling the CIFAR-100 preset's L_P: sympy's defaults {t_default:.2f} s, Bound's {t_ours:.2f} s "
          f"({t_default / t_ours:.0f}x; the same value)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--sympy-points", type=int, default=50)
    args = parser.parse_args()
    deep = ModelSpec(encoder_widths=(32, 32, 32), decoder_widths=(32, 32, 32))
    specs = {"default (gaussian, sgd)": default_spec(),
             "beta-VAE, 3+3 layers": VAESpec(model=deep, objective=ObjectiveSpec("beta", 0.5, 4)),
             "iwae K=5": VAESpec(objective=ObjectiveSpec("iwae", 1.0, 5))}
    for name, spec in specs.items():
        print(f"derive_all from scratch, {name}: {derive_from_scratch(spec):.3f} s")
    compile_paper_net()

    spec = default_spec()
    bound = D.convergence(spec)
    values = D.spec_values(spec)
    rng = np.random.default_rng(0)
    grid = {**values, "B": rng.integers(1, 1024, args.points), "K": rng.integers(1, 100, args.points),
            "beta": rng.uniform(0, 4, args.points), "n": rng.integers(1, 10**7, args.points)}
    bound.evaluate(values)  # compile once (lambdify), as any repeated use would
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = bound.evaluate(grid)
        times.append(time.perf_counter() - t0)
    t_vec = sorted(times)[2]
    print(f"vectorised evaluation at {args.points:,} settings (validation included): first call {times[0]:.3f} s, "
          f"median of 5 {t_vec:.3f} s = {args.points / t_vec:.2e} settings/s (goal >= 1e7)")

    expr = bound.expr
    t0 = time.perf_counter()
    for i in range(args.sympy_points):
        point = {**values, "B": int(grid["B"][i]), "K": int(grid["K"][i]), "beta": float(grid["beta"][i]),
                 "n": int(grid["n"][i])}
        slow = float(expr.xreplace({s: sp.Float(point[s.name], 30) for s in bound.symbols}).evalf())
        assert np.isclose(slow, out[i], rtol=1e-9), (slow, out[i])
    t_sym = (time.perf_counter() - t0) / args.sympy_points
    print(f"sympy point by point: {t_sym * 1e3:.2f} ms per setting "
          f"(results agree with the vectorised ones to 1e-9)")
    print(f"speed-up of the vectorised path per setting: {t_sym / (t_vec / args.points):,.0f}x")


if __name__ == "__main__":
    main()
