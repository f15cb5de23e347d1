"""Convergence theorems: explicit bounds on (1/(n+1)) sum_{k=0}^{n} E||grad L(theta_k)||^2 = E||grad L(theta_R)||^2.

Step sizes gamma_k = C_gamma k^{-1/2}, R uniform on {0, ..., n} (the paper's setting). Each function
returns the named terms of the bound as sympy expressions; `bounds.derive` wraps them in `Bound`
objects. Derivations: docs/derivations.md, "Theorems".
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from . import symbols as S

Terms = dict[str, sp.Expr]


def harmonic_bound(m: sp.Expr) -> sp.Expr:
    """H_m = sum_{j<=m} 1/j <= 1 + log m."""
    return 1 + sp.log(m)


def power_sum_bound(p: sp.Expr, m: sp.Expr) -> sp.Expr:
    """sum_{j=1}^m j^{-p} <= 1 + int_1^m x^{-p} dx, for p >= 0 (a number)."""
    p = sp.nsimplify(p)
    if p == 1:
        return 1 + sp.log(m)
    return 1 + (m ** (1 - p) - 1) / (1 - p)


def sgd(L: sp.Expr, sigma2: sp.Expr, *, L_star: sp.Expr = S.L_star, C: sp.Expr = S.C_gamma,
        n: sp.Expr = S.n) -> tuple[Terms, dict[str, sp.Basic]]:
    """SGD ascent with an unbiased estimator of variance <= sigma2 on an L-smooth objective, C_gamma L <= 1:

        E||grad L(theta_R)||^2 <= 2 L* / (C sqrt(n+1)) + L C sigma2 (1 + log(n+1)) / sqrt(n+1).
    """
    root = sp.sqrt(n + 1)
    terms = {"initial gap": 2 * L_star / (C * root),
             "noise": L * C * sigma2 * harmonic_bound(n + 1) / root}
    return terms, {"C_gamma * L <= 1": sp.Le(C * L, 1)}


def mapping_factor(u: sp.Expr) -> sp.Expr:
    """rho(u), u = t L: ||G_t(theta)|| <= rho(t L) ||grad phi_{1/(2L)}(theta)|| for the gradient mapping G_t of an
    L-smooth objective on a closed convex set and the gradient of its Moreau envelope with parameter 1/(2L)
    (docs/derivations.md, "Projected SGD"). rho decreases from infinity (u -> 0) to 3/2 (u -> infinity);
    rho(1/2) = (5 + sqrt 17)/4 ~ 2.28."""
    return ((3 * u + 1) + sp.sqrt((3 * u + 1) ** 2 - 4 * u)) / (4 * u)


def projected_sgd(L: sp.Expr, sigma2: sp.Expr, *, L_star: sp.Expr = S.L_star, C: sp.Expr = S.C_gamma,
                  n: sp.Expr = S.n, t: sp.Expr | None = None) -> tuple[Terms, dict[str, sp.Basic]]:
    """Projected SGD theta_{k+1} = Pi(theta_k + gamma_{k+1} ghat_k) on a closed convex set X (Pi the Euclidean
    projection), unbiased ghat of variance <= sigma2, L-smooth objective on X, C_gamma L <= 1/2. The gradient
    mapping G_t(theta) = (Pi(theta + t grad L) - theta) / t at t (default: C_gamma) satisfies

        (1/(n+1)) sum_{k<=n} E||G_t(theta_k)||^2 <= rho(t L)^2 4 [L* + L C^2 sigma2 (1 + log(n+1))] / (C sqrt(n+1)).

    The Moreau envelope of -L + indicator(X) with parameter 1/(2L) decreases in expectation by gamma/4 times its
    squared gradient per step, up to L gamma^2 sigma2; `mapping_factor` turns that into the gradient mapping.
    """
    t = C if t is None else t
    root = sp.sqrt(n + 1)
    factor = 4 * mapping_factor(t * L) ** 2
    terms = {"initial gap": factor * L_star / (C * root),
             "noise": factor * L * C * sigma2 * harmonic_bound(n + 1) / root}
    return terms, {"C_gamma * L <= 1/2": sp.Le(C * L, sp.Rational(1, 2))}


def biased_adaptive(L: sp.Expr, lam: sp.Expr, sigma_A2: sp.Expr, r_terms: Sequence[tuple[str, sp.Expr, sp.Expr]],
                    *, gap: sp.Expr = S.L_star, C: sp.Expr = S.C_gamma, n: sp.Expr = S.n) -> Terms:
    """BASA's general form: theta_{k+1} = theta_k - gamma_{k+1} A_k H_k on V = -L (L-smooth), with
    E<grad V, A_k H_k> >= lam (E||grad V||^2 - r_{k+1}), E||A_k H_k||^2 <= sigma_A2 and
    r_j = sum_i C_i j^{-p_i} (r_terms: (name, C_i, p_i)):

        E||grad V(theta_R)||^2 <= gap / (lam C sqrt(n+1)) + L sigma_A2 C H_{n+1} / (2 lam sqrt(n+1))
                                  + sum_i (C_i / sqrt(n+1)) sum_{j<=n+1} j^{-1/2-p_i}.
    """
    root = sp.sqrt(n + 1)
    terms = {"initial gap": gap / (lam * C * root),
             "noise": L * sigma_A2 * C * harmonic_bound(n + 1) / (2 * lam * root)}
    for name, C_i, p_i in r_terms:
        terms[name] = C_i * power_sum_bound(sp.Rational(1, 2) + sp.nsimplify(p_i), n + 1) / root
    return terms


def adaptive(kind: str, L: sp.Expr, M: sp.Expr, *, delta: sp.Expr = S.delta, beta2: sp.Expr = S.beta2, gap: sp.Expr = S.L_star,
             C: sp.Expr = S.C_gamma, n: sp.Expr = S.n) -> Terms:
    """AdaGrad or RMSProp (preconditioner [delta I + Diag(second moments)]^{-1/2}) with ||H_k|| <= M and
    ||grad V|| <= M.

    lam = 1 / (2 sqrt(delta + M^2)), sigma_A2 = M^2 / delta. The preconditioner uses the current H_k; the
    gap to its F_k-measurable version costs M^4 sqrt(delta + M^2) / delta^{3/2} times 1/(k+1) (AdaGrad)
    or times (1 - beta2) (RMSProp, a term that does not vanish): the gap t between the two preconditioners' second
    moments is M^2/(k+1) or (1 - beta2) M^2, each costing M^2 t / (2 delta^{3/2}) in <grad V, A_k H_k>, which is
    lam r: r = M^2 t sqrt(delta + M^2) / delta^{3/2}.
    """
    lam = 1 / (2 * sp.sqrt(delta + M**2))
    sigma_A2 = M**2 / delta
    dep = M**4 * sp.sqrt(delta + M**2) / delta ** sp.Rational(3, 2)
    if kind == "adagrad":
        r_terms = [("preconditioner dependence", dep, 1)]
    elif kind == "rmsprop":
        r_terms = [("preconditioner dependence", dep * (1 - beta2), 0)]
    else:
        raise ValueError(f"kind={kind!r} is invalid: must be 'adagrad' or 'rmsprop'")
    return biased_adaptive(L, lam, sigma_A2, r_terms, gap=gap, C=C, n=n)


def adam(L: sp.Expr, M: sp.Expr, *, beta1: sp.Expr = S.beta1, beta2: sp.Expr = S.beta2, delta: sp.Expr = S.delta,
         gap: sp.Expr = S.L_star, C: sp.Expr = S.C_gamma, n: sp.Expr = S.n) -> Terms:
    """Adam with momentum, in BASA's form without bias correction, on V = -L (L-smooth), unbiased H_k:

        m_k = beta1 m_{k-1} + (1 - beta1) H_k,   v_k = beta2 v_{k-1} + (1 - beta2) H_k^2   (m_{-1} = v_{-1} = 0),
        theta_{k+1} = theta_k - gamma_{k+1} (delta + v_k)^{-1/2} m_k,   ||H_k|| <= M, ||grad V|| <= M.

    Writing m_k as a weighted sum of past H_j, each past gradient is compared with the one it estimated
    (L-smoothness along the path) and the preconditioner with an F_j-measurable one; with R uniform,
    the last iterate's weight (1 - beta1) sets the factor 1/(1 - beta1). Derived in docs/derivations.md, "Adam".
    The "preconditioner dependence" term, (1 - beta2) times a constant, does not vanish with n (as for RMSProp).
    """
    root = sp.sqrt(n + 1)
    scale = sp.sqrt(delta + M**2) / ((1 - beta1) * C * root)
    H = harmonic_bound(n + 1)
    return {"initial gap": scale * gap,
            "noise": scale * L * M**2 * C**2 * H / (2 * delta),
            "momentum": scale * beta1 * L * M**2 * C**2 * H / (delta * (1 - beta1)),
            "preconditioner dependence": scale * (1 - beta2) * M**4 * C * power_sum_bound(sp.Rational(1, 2), n + 1)
            / (2 * delta ** sp.Rational(3, 2) * (1 - beta1))}
