"""Convergence theorems: explicit bounds on (1/(n+1)) sum_{k=0}^{n} E||grad L(theta_k)||^2 = E||grad L(theta_R)||^2.

Step sizes gamma_k = C_gamma k^{-1/2}, R uniform on {0, ..., n} (the paper's setting). Each function
returns the named terms of the bound as sympy expressions; `bounds.derive` wraps them in `Bound`
objects. Derivations: docs/derivations.md, "Theorems".
"""
from __future__ import annotations

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
        n: sp.Expr = S.n, weights: sp.Expr = sp.Integer(1)) -> tuple[Terms, dict[str, sp.Basic]]:
    """SGD ascent with an unbiased estimator of variance <= sigma2 on an L-smooth objective, C_gamma L <= 1:

        E||grad L(theta_R)||^2 <= W [2 L* / (C sqrt(n+1)) + L C sigma2 (1 + log(n+1)) / sqrt(n+1)],

    W = 1, or `weights`: W_steps = gamma_{n+1} sum_k E||g_k||^2 / sum_k gamma_{k+1} E||g_k||^2 <= 1, the steps'
    weights as the run's gradients meet them, which the proof's last step bounds by 1 (docs/derivations.md, "SGD").
    """
    root = sp.sqrt(n + 1)
    terms = {"initial gap": weights * 2 * L_star / (C * root),
             "noise": weights * L * C * sigma2 * harmonic_bound(n + 1) / root}
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


def _log_sum(M_inf: sp.Expr, delta: sp.Expr) -> sp.Expr:
    """ln(1 + M_inf^2 / delta): what one coordinate's sum of (1 - beta2) H_k^2 / (delta + v_k) costs once
    (docs/derivations.md, "Adaptive methods", lemma 1)."""
    return sp.log(1 + M_inf**2 / delta)


Sums = tuple[sp.Expr, sp.Expr] | dict[str, sp.Expr]


def _complete(sums: Sums | None, lemma: tuple[sp.Expr, sp.Expr], defaults: dict[str, sp.Expr]) -> dict[str, sp.Expr]:
    """The adaptive theorem's sums by name. `sums`: (X_gamma, X_gamma2), or a mapping that may also give X_gamma_M,
    U_gamma and R_eff (docs/derivations.md, "Per-coordinate bounds and the steps' own curvature"); None: the lemmas'
    bounds `lemma`. A name left out takes its default from `defaults`, each a function of X_gamma and X_gamma2 there
    written with the placeholders S.X_gamma, S.X_gamma2."""
    if sums is None:
        sums = lemma
    given = dict(zip(("X_gamma", "X_gamma2"), sums)) if isinstance(sums, tuple) else dict(sums)
    base = {S.X_gamma: given["X_gamma"], S.X_gamma2: given["X_gamma2"]}
    return {**{name: sp.sympify(expr).xreplace(base) for name, expr in defaults.items()}, **given}


def preconditioner_top(M_inf: sp.Expr, delta: sp.Expr, form: str = "theory") -> sp.Expr:
    """The bound on the preconditioner's largest inverse entry that the adaptive theorems' main part pays (its least
    entry is 1 over it): sqrt(delta + M_inf^2) as analysed, M_inf + delta in torch's form (docs/derivations.md,
    "Torch's Adam and RMSProp", 3.); a run measures it as R_eff, the preconditioner's inverse as its gradients meet
    it (at most its largest inverse entry, R_top)."""
    return M_inf + delta if form == "torch" else sp.sqrt(delta + M_inf**2)


def momentum_constants(beta1: sp.Expr, beta2: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(kappa, Q, Lam) of the Adam theorem: with x = beta1/beta2 and rho = beta1/sqrt(beta2), kappa =
    (1 - beta1)/(1 - x), Q = (1 - beta1)[(1 - x)^{-3/2} + (1 - rho)^{-2}] and
    Lam = 1 + 2 sqrt(x beta1 (1 + beta1))/(1 - beta1) (docs/derivations.md, "Adam and RMSProp")."""
    x, rho = beta1 / beta2, beta1 / sp.sqrt(beta2)
    kappa = (1 - beta1) / (1 - x)
    Q = (1 - beta1) * ((1 - x) ** sp.Rational(-3, 2) + (1 - rho) ** -2)
    Lam = 1 + 2 * sp.sqrt(x * beta1 * (1 + beta1)) / (1 - beta1)
    return kappa, Q, Lam


def adagrad_sums(M_inf: sp.Expr, dim: sp.Expr, *, delta: sp.Expr = S.delta, C: sp.Expr = S.C_gamma,
                 n: sp.Expr = S.n) -> tuple[sp.Expr, sp.Expr]:
    """Lemma 1's bounds on AdaGrad's X_gamma = C sum_k ||U_k||^2 and X_gamma2 = C^2 sum_k ||U_k||^2."""
    log_sum = dim * sp.log(1 + (n + 1) * M_inf**2 / delta)
    return C * log_sum, C**2 * log_sum


def adam_sums(M_inf: sp.Expr, dim: sp.Expr, *, beta2: sp.Expr = S.beta2, delta: sp.Expr = S.delta,
              C: sp.Expr = S.C_gamma, n: sp.Expr = S.n, beta1: sp.Expr = S.beta1,
              form: str = "theory", corrected: bool | None = None) -> tuple[sp.Expr, sp.Expr]:
    """Lemma 3's bounds on Adam's (and RMSProp's) X_gamma = sum_k gamma_{k+1} sum_i X_k,i and X_gamma2 (weights
    gamma_{k+1}^2), gamma_k = C k^{-1/2}: d*/(1 - beta2) C (l + c P_{n+1}) and d*/(1 - beta2) C^2 (l + c H_{n+1}).

    form "torch" (torch.optim's update, docs/derivations.md "Torch's Adam and RMSProp"): eps = delta sits outside the
    square root, so l = ln(1 + M_inf^2 / delta'), delta' = delta^2 (1 - beta2) for Adam (its eps is scaled by
    sqrt(1 - beta2^{k+1}) >= sqrt(1 - beta2)) and delta^2 for RMSProp (beta1 = 0: no bias correction). Adam's
    weights are its effective steps gamma'_{k+1} = gamma_{k+1} sqrt(1 - beta2^{k+1}) / (1 - beta1^{k+1}),
    nonincreasing, the first C sqrt(1 - beta2) / (1 - beta1), each at most gamma_{k+1} / (1 - beta1); Abel's
    summation pays the first weight times l and the sum of all of them times c. corrected: whether the torch form
    is Adam's, bias-corrected (None: Adam where beta1 != 0, RMSProp where beta1 = 0; torch's Adam at beta1 = 0 still
    corrects its second moment, so a caller that means it passes True)."""
    ell, c = _log_sum(M_inf, delta), sp.log(1 / beta2)
    per_coordinate = dim / (1 - beta2)
    P, H = power_sum_bound(sp.Rational(1, 2), n + 1), harmonic_bound(n + 1)
    if corrected is None:
        corrected = beta1 != 0
    if form == "torch" and corrected:  # Adam, bias-corrected
        first, most = C * sp.sqrt(1 - beta2) / (1 - beta1), C / (1 - beta1)
        ell = _log_sum(M_inf, delta**2 * (1 - beta2))
        return (per_coordinate * (first * ell + c * most * P), per_coordinate * (first**2 * ell + c * most**2 * H))
    if form == "torch":  # RMSProp: the analysed weights, eps outside the root
        ell = _log_sum(M_inf, delta**2)
    return (per_coordinate * C * (ell + c * P), per_coordinate * C**2 * (ell + c * H))


def adagrad(L: sp.Expr, M_inf: sp.Expr, dim: sp.Expr, *, delta: sp.Expr = S.delta, gap: sp.Expr = S.L_star,
            C: sp.Expr = S.C_gamma, n: sp.Expr = S.n, sums: Sums | None = None) -> Terms:
    """AdaGrad as analysed (A_k = [delta + (1/(k+1)) sum_{j<=k} H_j^2]^{-1/2}, step C_gamma (k+1)^{-1/2}, so the update
    is C_gamma U_k with U_k = H_k / sqrt((k+1) delta + sum_{j<=k} H_j^2)) on V = -L, L-smooth, with |H_k,i| <= M_inf for
    every one of the dim coordinates:

        E||grad V(theta_R)||^2 <= 2 sqrt(delta + M_inf^2) / (C sqrt(n+1)) [L* + 2 M_inf X_gamma + (L/2) X_gamma2],

    X_gamma = C sum_k ||U_k||^2 and X_gamma2 = C^2 sum_k ||U_k||^2, each sum at most dim ln(1 + (n+1) M_inf^2 / delta)
    (Lemma 1; put in unless `sums` gives the two as expressions, e.g. the registry's symbols for a run's recorded
    sums). The preconditioner's dependence on the current H_k is paid for coordinate by coordinate, against the
    step's own size, so delta enters only through a logarithm (docs/derivations.md, "AdaGrad").
    """
    x = _complete(sums, adagrad_sums(M_inf, dim, delta=delta, C=C, n=n),
                  {"X_gamma_M": M_inf * S.X_gamma, "R_eff": sp.sqrt(delta + M_inf**2)})
    scale = 2 * x["R_eff"] / (C * sp.sqrt(n + 1))
    return {"initial gap": scale * gap,
            "preconditioner dependence": scale * 2 * x["X_gamma_M"],
            "noise": scale * L * x["X_gamma2"] / 2}


def adam(L: sp.Expr, M_inf: sp.Expr, M: sp.Expr, dim: sp.Expr, *, beta1: sp.Expr = S.beta1,
         beta2: sp.Expr = S.beta2, delta: sp.Expr = S.delta, gap: sp.Expr = S.L_star, C: sp.Expr = S.C_gamma,
         n: sp.Expr = S.n, sums: Sums | None = None,
         form: str = "theory", corrected: bool | None = None) -> tuple[Terms, dict[str, sp.Basic]]:
    """Adam as analysed (RMSProp at beta1 = 0), without bias correction, on V = -L, L-smooth:

        m_k = beta1 m_{k-1} + (1 - beta1) H_k,   v_k = beta2 v_{k-1} + (1 - beta2) H_k^2   (m_{-1} = v_{-1} = 0),
        theta_{k+1} = theta_k - C_gamma (k+1)^{-1/2} m_k / sqrt(delta + v_k),

    with |H_k,i| <= M_inf on each of the dim coordinates, ||grad V|| <= M, and beta1 < beta2. With x = beta1/beta2,
    rho = beta1/sqrt(beta2), kappa = (1 - beta1)/(1 - x), l = ln(1 + M_inf^2/delta), c = ln(1/beta2):

        E||grad V(theta_R)||^2 <= s [L* + dim/(1 - beta2) (M_inf sqrt(1 - beta2) Q C (l + c P_{n+1})
                                                             + (L/2) kappa Lam C^2 (l + c H_{n+1}))]
                                  + M^2 beta1 / ((1 - beta1)(n + 1)),

    s = 2 sqrt(delta + M_inf^2) / (C sqrt(n+1)), Q = (1 - beta1)[(1 - x)^{-3/2} + (1 - rho)^{-2}],
    Lam = 1 + 2 sqrt(x beta1 (1 + beta1)) / (1 - beta1), P_m = sum_{j<=m} j^{-1/2}, H_m = sum_{j<=m} 1/j.
    The c terms (c P_{n+1} ~ 2 (1 - beta2) sqrt(n)) do not vanish with n at a fixed beta2. Derived in
    docs/derivations.md, "Adam and RMSProp". The two parts in dim/(1 - beta2) are Lemma 3's bounds on
    X_gamma = sum_k gamma_{k+1} sum_i X_k,i and X_gamma2 = sum_k gamma_{k+1}^2 sum_i X_k,i, X_k,i = H_k,i^2/(delta + v_k,i):
    `sums` puts other expressions in their place (a run's recorded sums, as the registry's symbols): (X_gamma,
    X_gamma2), or a mapping that may also give X_gamma_M, the per-coordinate sum that takes M_inf X_gamma's place,
    U_gamma, the steps' curvature sum that takes kappa Lam X_gamma2's, and R_eff, the preconditioner's inverse as the
    gradients meet it, which takes sqrt(delta + M_inf^2)'s in s (docs/derivations.md, "Per-coordinate bounds and the
    steps' own curvature", "The preconditioned gradient").

    form "torch": torch.optim's Adam (bias-corrected, beta1 > 0) or RMSProp (beta1 = 0), eps = delta outside the
    square root. Its step is the analysed one with the effective step gamma'_{k+1} = gamma_{k+1} sqrt(1 - beta2^{k+1})
    / (1 - beta1^{k+1}) (nonincreasing; gamma' = gamma for RMSProp) and eps_k = delta sqrt(1 - beta2^{k+1}) outside
    the square root of the uncorrected v_k, so the same proof holds with X_k,i = H_k,i^2 / (sqrt(v_k,i) + eps_k)^2,
    the sums weighted by gamma' and sqrt(delta + M_inf^2) replaced by M_inf + delta in s (docs/derivations.md,
    "Torch's Adam and RMSProp"). corrected: as `adam_sums`'s (None: Adam's correction where beta1 != 0).
    """
    kappa, Q, Lam = momentum_constants(beta1, beta2)
    x = _complete(sums, adam_sums(M_inf, dim, beta2=beta2, delta=delta, C=C, n=n, beta1=beta1, form=form,
                                  corrected=corrected),
                  {"X_gamma_M": M_inf * S.X_gamma, "U_gamma": kappa * Lam * S.X_gamma2,
                   "R_eff": preconditioner_top(M_inf, delta, form)})
    scale = 2 * x["R_eff"] / (C * sp.sqrt(n + 1))
    terms = {"initial gap": scale * gap,
             "preconditioner dependence": scale * sp.sqrt(1 - beta2) * Q * x["X_gamma_M"],
             "noise": scale * L / 2 * x["U_gamma"]}
    if beta1 == 0:  # RMSProp: no momentum, nothing to warm up, no condition on beta1
        return terms, {}
    terms["momentum warm-up"] = M**2 * beta1 / ((1 - beta1) * (n + 1))
    return terms, {"beta1 < beta2": sp.Lt(beta1, beta2)}
