"""One name per quantity: every symbol a bound is written in, with where it lives in a spec, what it means and its
command-line flag.

The sympy symbols (`bounds.symbols`), the numbers a spec gives them (`derive.spec_values`), the grid names of
`vaebound bound --grid`, the flags of `vaebound bound` and the numeric factors of `compare`'s orderings are all read
from `SETTINGS`; the constants of the theorems (L, sigma2, M) are in `CONSTANTS`. A new setting is one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POSITIVE = "positive"        # > 0
NONNEGATIVE = "nonnegative"  # >= 0
REAL = "real"                # any real number


@dataclass(frozen=True)
class Setting:
    """A symbol of the bounds.

    path: where its value lives in a `VAESpec` (attribute names from the spec down), None for a constant the
    theorems are written in (derived or measured, not set). flag: the option of `vaebound bound` (None: no option).
    claim: the paper's claim about the measured quantity as the setting grows, for `compare`'s orderings (None: it
    is not an ordering factor); sign: the claimed sign of d(measured)/d(setting), 0 where the claim is not a sign.
    upper: the range's exclusive upper end, where it has one.
    """
    name: str
    path: tuple[str, ...] | None
    description: str
    domain: str = POSITIVE
    flag: str | None = None
    integer: bool = False
    claim: str | None = None
    sign: int = 0
    upper: float | None = None  # an exclusive upper end of the range (alpha < 1), None where there is none

    def read(self, spec: Any) -> Any:
        """The setting's value in `spec`."""
        node = spec
        for part in self.path or ():
            node = getattr(node, part)
        return node

    @property
    def assumptions(self) -> dict[str, bool]:
        """sympy assumptions of the symbol."""
        return {POSITIVE: dict(positive=True, real=True), NONNEGATIVE: dict(nonnegative=True, real=True),
                REAL: dict(real=True)}[self.domain]


# In the order `compare` lists its orderings.
SETTINGS: tuple[Setting, ...] = (
    Setting("beta", ("objective", "beta"), "beta-VAE weight of the KL (>= 0)", NONNEGATIVE, flag="--beta",
            claim="smaller beta converges faster (measured increases with beta)", sign=1),
    Setting("K", ("objective", "K"), "variational samples per data point (>= 1)", flag="--K", integer=True,
            claim="larger K converges faster (measured decreases with K)", sign=-1),
    Setting("renyi_alpha", ("objective", "alpha"), "VR-IWAE's Renyi parameter alpha, in [0, 1) (0: the IWAE)",
            NONNEGATIVE, flag="--renyi-alpha", upper=1.0),
    Setting("B", ("B",), "mini-batch size (>= 1)", flag="--B", integer=True,
            claim="larger B converges faster (measured decreases with B)", sign=-1),
    Setting("n", ("n",), "number of iterations (>= 1)", flag="--n", integer=True),
    Setting("C_gamma", ("optimizer", "C_gamma"), "step size constant: gamma_k = C_gamma k^{-1/2} (> 0)",
            flag="--C-gamma"),
    Setting("beta1", ("optimizer", "beta1"), "Adam's first-moment decay, in [0, 1)", NONNEGATIVE, flag="--beta1"),
    Setting("beta2", ("optimizer", "beta2"), "Adam's and RMSProp's second-moment decay, in (0, 1)", flag="--beta2"),
    Setting("delta", ("optimizer", "delta"), "adaptive methods' regulariser (> 0)", flag="--delta"),
    Setting("a", ("weight_bound", "a"), "entry-wise parameter bound: every entry in [-a, a] (> 0)", flag="--a"),
    Setting("c", ("model", "decoder_std"), "decoder standard deviation c > 0 (variance c^2)", flag="--decoder-std"),
    Setting("R_x", ("model", "data_bound"), "data bound R_x >= ||x||", NONNEGATIVE, flag="--data-bound"),
    Setting("L_star", ("objective_gap",), "objective gap sup L - L(theta_0) (> 0)", flag="--L-star"),
    Setting("s", ("model", "activation", "s"), "soft-clipping / softplus sharpness of the hidden layers (> 0)",
            flag="--s", claim="soft-clipping s = 5 reaches the lowest gradient norm"),
    Setting("s1", ("model", "activation", "s1"), "soft-clipping's lower end", REAL, flag="--s1"),
    Setting("s2", ("model", "activation", "s2"), "soft-clipping's upper end (> s1)", REAL, flag="--s2"),
    Setting("mu_max", ("model", "mean_clip"), "encoder mean head clipped to (-mu_max, mu_max)", flag="--mean-clip"),
    Setting("logvar_min", ("model", "logvar_min"), "encoder log-variance head's lower clip", REAL,
            flag="--logvar-min"),
    Setting("logvar_max", ("model", "logvar_max"), "encoder log-variance head's upper clip (> logvar_min)", REAL,
            flag="--logvar-max"),
    Setting("head_s", ("model", "head_s"), "sharpness of the soft-clipped heads (> 0)", flag="--head-s"),
)

CONSTANTS: tuple[Setting, ...] = (
    Setting("L", None, "smoothness constant of the objective on the compact set"),
    Setting("sigma2", None, "variance bound of the mini-batch gradient estimator"),
    Setting("M", None, "almost-sure bound on the gradient estimator (adaptive methods)", flag="--M"),
    Setting("M_inf", None, "almost-sure bound on every coordinate of the gradient estimator (adaptive methods): "
            "|H_k,i| <= M_inf", flag="--M-inf"),
    # The adaptive theorems before their last lemma (docs/derivations.md, "The adaptive bounds a posteriori"): the
    # a-priori bound puts in the lemmas' bounds on them, the a-posteriori bound a run's recorded sums.
    Setting("X_gamma", None, "adaptive methods: the step-weighted sum of the preconditioned squared gradients, "
            "sum_k gamma_{k+1} sum_i H_k,i^2 / (delta + v_k,i) (AdaGrad: C_gamma sum_k ||U_k||^2)", NONNEGATIVE),
    Setting("X_gamma2", None, "adaptive methods: the same sum with the weights gamma_{k+1}^2 (AdaGrad: "
            "C_gamma^2 sum_k ||U_k||^2)", NONNEGATIVE),
    Setting("X_gamma_M", None, "adaptive methods: X_gamma with each coordinate's part weighted by its own bound "
            "M_i on the root of its conditional second moments, sum_i M_i sum_k gamma_{k+1} X_k,i (at most "
            "M_inf X_gamma)", NONNEGATIVE),
    Setting("R_eff", None, "adaptive methods: the preconditioner's inverse and the steps' weights as the gradient "
            "meets them in the main part, gamma_{n+1} sum_j c_j ||g_j||^2 / sum_j w_j g_j^T P_j g_j, at most the "
            "preconditioner's largest inverse entry over the steps, sqrt(delta + v_k,i) (torch: sqrt(vhat_k,i) + "
            "delta), so at most sqrt(delta + M_inf^2) (torch: M_inf + delta) (docs/derivations.md, \"The "
            "preconditioned gradient\")", NONNEGATIVE),
    Setting("W_steps", None, "SGD: the steps' weights as the gradient meets them, gamma_{n+1} sum_k ||g_k||^2 / "
            "sum_k gamma_{k+1} ||g_k||^2, at most 1 (docs/derivations.md, \"SGD\")", NONNEGATIVE),
    Setting("U_gamma", None, "Adam and RMSProp: the steps' curvature sum, sum_k ||gamma_{k+1} u_k||^2 plus twice the "
            "momentum's transport, at most kappa Lam X_gamma2", NONNEGATIVE),
    # Black-box VI's target (bounds/objectives/bbvi.py): assumptions on log p(x, z), not settings of a VAE.
    Setting("M0", None, "black-box VI: |log p(x, 0)| <= M0", NONNEGATIVE),
    Setting("M1", None, "black-box VI: ||grad_z log p(x, 0)|| <= M1", NONNEGATIVE),
    Setting("M2", None, "black-box VI: ||hess_z log p(x, z)|| <= M2", NONNEGATIVE),
    Setting("Mp", None, "black-box VI, binary latents: |log p(x, z)| <= Mp on {0, 1}^d", NONNEGATIVE),
    Setting("logit_max", None, "black-box VI, binary latents: |phi_j| <= logit_max"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS + CONSTANTS}


def ordering_factors() -> dict[str, Setting]:
    """The settings `compare` orders runs by (those with a claim of the paper)."""
    return {s.name: s for s in SETTINGS if s.claim is not None}


def write_settings(tree: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Put settings (by registry name) into a spec's dict (`VAESpec.to_dict` form), in place; returns the tree. An
    integer setting must be a whole number. Nothing is validated until the tree becomes a spec."""
    from .validate import SpecError
    for name, value in changes.items():
        setting = BY_NAME[name]
        if setting.path is None:
            raise SpecError(f"{name} is a constant of the theorems, not a setting of the spec")
        if setting.integer and isinstance(value, float):
            if not value.is_integer():
                raise SpecError(f"{name}={value!r} is invalid: must be an integer >= 1")
            value = int(value)
        node = tree
        for part in setting.path[:-1]:
            node = node[part]
        node[setting.path[-1]] = value
    return tree


def with_settings(spec: Any, changes: dict[str, Any]) -> Any:
    """A copy of a `VAESpec` with settings (by registry name) replaced, validated like any spec."""
    from .spec import VAESpec
    return VAESpec.from_dict(write_settings(spec.to_dict(), changes))


def minimum(setting: Setting) -> float:
    """The lowest value (allowed) of a setting when a bound is evaluated. Zero is allowed for the positive settings
    (a limit the formulas handle) except B and K, which count; n may be 0 (the first iterate)."""
    if setting.name in ("B", "K"):
        return 1.0
    return -float("inf") if setting.domain == REAL else 0.0


def check_values(name: str, values: Any) -> None:
    """Refuse a value a bound must not be evaluated at: None, NaN, infinity, below the setting's range, or (B, K, n)
    not a whole number. Layer-norm symbols (omega_i, b_i) are >= 0. `SpecError` names the setting and the range."""
    import numpy as np
    from .validate import SpecError
    setting = BY_NAME.get(name)
    if values is None:
        raise SpecError(f"{name}=None is invalid: must be a number")
    array = np.asarray(values)
    whole = array.dtype.kind in "iub"  # integer arrays are finite whole numbers: no conversion, no checks
    if not whole:
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise SpecError(f"{name}={values!r} is invalid: must be a number or an array of numbers") from None
        if not np.isfinite(array.sum()) and not np.all(np.isfinite(array)):  # one reduction in the common case
            raise SpecError(f"{name} is invalid: every value must be a finite number (got {_first_bad(array)!r})")
    if setting is None and not name.startswith(("omega_", "b_")):
        return  # a symbol of a bound built outside the registry (tests, black-box VI): finiteness only
    low = minimum(setting) if setting is not None else 0.0  # omega_i, b_i: norms
    if array.size and array.min() < low:
        raise SpecError(f"{name}={float(array[array < low].flat[0])!r} is invalid: must be >= {low:g}"
                        + (f" ({setting.description})" if setting is not None else ""))
    if setting is not None and setting.upper is not None and array.size and array.max() >= setting.upper:
        raise SpecError(f"{name}={float(array[array >= setting.upper].flat[0])!r} is invalid: must be < "
                        f"{setting.upper:g} ({setting.description})")
    if setting is not None and setting.integer and not whole and np.any(array != np.round(array)):
        raise SpecError(f"{name}={float(array[array != np.round(array)].flat[0])!r} is invalid: must be a whole number")


def _first_bad(array: Any) -> float:
    import numpy as np
    return float(array[~np.isfinite(array)].flat[0])


def known_name(name: str) -> bool:
    """Whether a value name can be a symbol of some bound: a setting, a constant, or a per-layer norm bound."""
    return name in BY_NAME or name.startswith(("omega_", "b_"))
