"""One plain description of a VAE, its data and its training settings.

The spec is read by `bounds` (to derive a bound) and by `empirical` (to train), so the network the
theory bounds is exactly the network that is trained. Plain dataclasses only: no torch, no sympy.
Every field is validated on construction; a bad value raises `SpecError` (a ValueError) naming the
field and the allowed range.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from .layout import Layout, parameter_layout
from .spec_fields import ACTIVATIONS, NORM_KINDS, ActivationSpec, ParameterBound  # noqa: F401 (re-exported)
from .validate import SpecError, build, choice, count, finite, instance, invalid, positive, sequence, table
from .support import NEUTRAL, READS, trained_estimators, trains

MODELS = ("linear", "gaussian", "bernoulli", "logistic")
FAMILIES = ("gaussian", "bernoulli")  # the logistic model's variational family
OBJECTIVES = ("elbo", "beta", "iwae", "vr_iwae")
ESTIMATORS = ("pathwise", "score")
OPTIMIZERS = ("sgd", "adam", "adagrad", "rmsprop")


@dataclass(frozen=True)
class ModelSpec:
    """The VAE architecture.

    linear: p(x|z) = N(W z + b, c^2 I), q(z|x) = N(V (x - b), diag(exp(v))).
    gaussian: p(x|z) = N(G_theta(z), c^2 I) with an MLP decoder; q(z|x) = N(mu(x), diag(exp(logvar(x))))
      with an MLP encoder whose heads are soft-clipped to (-mean_clip, mean_clip) and
      (logvar_min, logvar_max).
    bernoulli: as gaussian but p(x|z) = Bernoulli(sigmoid(logits(z))), data in [0, 1]: the paper's
      experiments use it, its theory does not cover it (our extension derives its constants).
    logistic: black-box VI of one posterior, no networks: Bayesian logistic regression p(z) = N(0, I), y_i | z ~
      Bernoulli(sigmoid(y_i-signed x_i . z)), each data row u_i = y_i x_i (data_dim = latent_dim features). The
      per-example objective is n_observations log sigmoid(u_i . z) + log p(z) - log q(z), whose mean over the N =
      n_observations training rows is the ELBO. `family`: q = N(mu, diag(exp(v))) (gaussian, |mu_j| <= a,
      logvar_min <= v_j <= logvar_max) or the product-Bernoulli family over z in {0, 1}^d (bernoulli, logits
      |phi_j| <= a, the prior uniform; score-function only). docs/derivations.md, "Black-box VI".
    data_range: (lo, hi) where every coordinate of every data point lies in [lo, hi] (images: (0, 1)), or None where
      only ||x|| <= data_bound is known; with a sigmoid decoder it bounds the residual ||x - G|| by
      sqrt(d) max(hi, 1 - lo) (docs/derivations.md, "Deep Gaussian VAE").
    architecture: `mlp`, or `conv` (the paper's image nets): the encoder runs conv layers (kernel 4, stride 2,
      padding 1) with `conv_channels` over images of `image_shape` (C, H, W), then linear layers of
      `encoder_widths`; the decoder mirrors it (linear layers of `decoder_widths`, then transposed convs). Conv
      networks are trained, measured and bounded (docs/derivations.md, "Convolutions").
    """

    kind: str = "gaussian"
    data_dim: int = 16
    latent_dim: int = 4
    encoder_widths: tuple[int, ...] = (32,)
    decoder_widths: tuple[int, ...] = (32,)
    data_bound: float = 4.0
    data_range: tuple[float, float] | None = None
    decoder_std: float = 1.0
    mean_clip: float = 5.0
    logvar_min: float = -6.0
    logvar_max: float = 2.0
    head_s: float = 5.0
    activation: ActivationSpec = field(default_factory=ActivationSpec)
    decoder_output: str = "sigmoid"
    architecture: str = "mlp"
    image_shape: tuple[int, ...] = ()
    conv_channels: tuple[int, ...] = ()
    n_observations: int = 1
    family: str = "gaussian"

    def __post_init__(self) -> None:
        choice("model", self.kind, MODELS)
        object.__setattr__(self, "n_observations", count("n_observations", self.n_observations))
        choice("family", self.family, FAMILIES)
        instance("activation", self.activation, ActivationSpec, "ActivationSpec('tanh')")
        choice("architecture", self.architecture, ("mlp", "conv"))
        object.__setattr__(self, "image_shape", tuple(count("image_shape", v) for v in self.image_shape))
        object.__setattr__(self, "conv_channels", tuple(count("conv_channels", v) for v in self.conv_channels))
        if self.architecture == "conv":
            if self.kind == "linear" or len(self.image_shape) != 3 or not self.conv_channels:
                invalid("architecture", self.architecture, "conv needs a gaussian or bernoulli model, image_shape "
                        "(C, H, W) and at least one entry in conv_channels")
            C, H, W = self.image_shape
            if self.data_dim != C * H * W:
                invalid("data_dim", self.data_dim, f"must equal C*H*W = {C * H * W} for image_shape {self.image_shape}")
            if H % 2 ** len(self.conv_channels) or W % 2 ** len(self.conv_channels):
                invalid("image_shape", self.image_shape,
                        f"H and W must be divisible by 2^{len(self.conv_channels)} (one halving per conv layer)")
        elif self.conv_channels:
            invalid("conv_channels", self.conv_channels, "only architecture='conv' has conv layers")
        count("data_dim", self.data_dim)
        count("latent_dim", self.latent_dim)
        object.__setattr__(self, "encoder_widths", tuple(count("encoder_widths", w) for w in self.encoder_widths))
        object.__setattr__(self, "decoder_widths", tuple(count("decoder_widths", w) for w in self.decoder_widths))
        if finite("data_bound", self.data_bound) < 0:
            invalid("data_bound", self.data_bound, "must be >= 0")
        if self.data_range is not None:
            given = sequence("data_range", self.data_range)
            low, high = given if len(given) == 2 else (None, None)
            if low is None or not finite("data_range", low) < finite("data_range", high):
                invalid("data_range", self.data_range, "must be two finite numbers [lo, hi] with lo < hi")
            object.__setattr__(self, "data_range", (float(low), float(high)))
        positive("decoder_std", self.decoder_std)
        positive("mean_clip", self.mean_clip)
        finite("logvar_min", self.logvar_min)
        finite("logvar_max", self.logvar_max)
        if not self.logvar_min < self.logvar_max:
            invalid("logvar_min", self.logvar_min, f"must be < logvar_max (logvar_max={self.logvar_max})")
        positive("head_s", self.head_s)
        choice("decoder_output", self.decoder_output, ("sigmoid", "identity"))
        if self.kind == "bernoulli" and self.data_bound > math.sqrt(self.data_dim):
            invalid("data_bound", self.data_bound, "Bernoulli data lie in [0, 1]^d, so data_bound <= sqrt(data_dim)")
        self._check_logistic()

    def _check_logistic(self) -> None:
        """The logistic model has no networks: refuse what it would ignore."""
        if self.kind != "logistic":
            for name, neutral in (("n_observations", 1), ("family", "gaussian")):
                if getattr(self, name) != neutral:
                    invalid(name, getattr(self, name), f"only model='logistic' reads it: leave {name}={neutral!r}")
            return
        if self.architecture != "mlp" or self.encoder_widths or self.decoder_widths:
            invalid("encoder_widths", self.encoder_widths, "model='logistic' has no networks: give encoder_widths=(), "
                    "decoder_widths=() and architecture='mlp' (bounds.presets.logistic_spec builds one)")
        if self.data_dim != self.latent_dim:
            invalid("latent_dim", self.latent_dim, f"model='logistic' has one coefficient per feature: latent_dim "
                    f"must equal data_dim={self.data_dim}")

    @property
    def n_encoder_layers(self) -> int:
        """Layers of the encoder, heads included (the decoder's follow in the flat parameter layout)."""
        return len(self.conv_channels) + len(self.encoder_widths) + 1

    @property
    def conv_grid(self) -> tuple[int, int]:
        """(h, w) of the feature map after the conv layers."""
        steps = 2 ** len(self.conv_channels)
        return self.image_shape[1] // steps, self.image_shape[2] // steps


@dataclass(frozen=True)
class ObjectiveSpec:
    """elbo (beta = 1), beta (beta-VAE, beta >= 0), iwae (K importance samples) or vr_iwae (the variational
    Renyi bound (1/(1 - alpha)) log (1/K) sum_k w_k^{1 - alpha}, alpha in [0, 1); alpha = 0 is the IWAE; the paper's
    first open question, bounded here as this project's extension: docs/derivations.md, "VR-IWAE")."""

    kind: str = "elbo"
    beta: float = 1.0
    K: int = 1
    alpha: float = 0.0

    def __post_init__(self) -> None:
        choice("objective", self.kind, OBJECTIVES)
        if finite("beta", self.beta) < 0:
            invalid("beta", self.beta, "must be >= 0")
        object.__setattr__(self, "K", count("K", self.K))
        if not 0 <= finite("alpha", self.alpha) < 1:
            invalid("alpha", self.alpha, "the VR-IWAE parameter must lie in [0, 1)")
        # A setting the objective does not read would be used by the bound and ignored by training: refuse it.
        for name, neutral in NEUTRAL.items():
            if name not in READS[self.kind] and getattr(self, name) != neutral:
                hint = ("the plain ELBO has beta = 1; use objective 'beta' for a beta-VAE"
                        if self.kind == "elbo" and name == "beta"
                        else f"objective={self.kind!r} does not read {name} (training would ignore it); "
                             f"leave {name} = {neutral:g}")
                invalid(name, getattr(self, name), hint)


@dataclass(frozen=True)
class OptimizerSpec:
    """Step sizes gamma_k = C_gamma k^{-1/2}; Adam needs beta1 < sqrt(beta2) < 1; RMSProp uses beta2."""

    name: str = "sgd"
    C_gamma: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    delta: float = 1e-8

    def __post_init__(self) -> None:
        choice("optimizer", self.name, OPTIMIZERS)
        positive("C_gamma", self.C_gamma)
        b1, b2 = finite("beta1", self.beta1), finite("beta2", self.beta2)
        if not 0 <= b1 < 1:
            invalid("beta1", self.beta1, "must lie in [0, 1)")
        if not 0 < b2 < 1:
            invalid("beta2", self.beta2, "must lie in (0, 1)")
        if self.name == "adam" and not b1 < math.sqrt(b2):
            invalid("beta1", self.beta1, f"Adam needs beta1 < sqrt(beta2) = {math.sqrt(b2):.6g}")
        positive("delta", self.delta)


@dataclass(frozen=True)
class VAESpec:
    """Everything a bound or a training run needs: model, objective, estimator, optimiser, B, n."""

    model: ModelSpec = field(default_factory=ModelSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    estimator: str = "pathwise"
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    weight_bound: ParameterBound = field(default_factory=ParameterBound)
    B: int = 64
    n: int = 10_000
    objective_gap: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name, kind in (("model", ModelSpec), ("objective", ObjectiveSpec), ("optimizer", OptimizerSpec),
                           ("weight_bound", ParameterBound)):
            instance(name, getattr(self, name), kind, f"{kind.__name__}(...)")
        choice("estimator", self.estimator, ESTIMATORS)
        if not trains(self.objective.kind, self.estimator):
            invalid("estimator", self.estimator, f"objective={self.objective.kind!r} trains with "
                    f"{trained_estimators(self.objective.kind)} only")
        if self.model.kind == "logistic":
            if self.objective.kind != "elbo":
                invalid("objective", self.objective.kind, "model='logistic' (black-box VI) trains the ELBO only")
            if self.model.family == "bernoulli" and self.estimator != "score":
                invalid("estimator", self.estimator, "the product-Bernoulli family has no reparameterisation: use "
                        "estimator='score'")
            if self.weight_bound.kind != "entrywise":
                invalid("weight_bound.kind", self.weight_bound.kind, "model='logistic' is bounded entry-wise "
                        "(|mu_j| <= a, or |phi_j| <= a): use kind='entrywise'")
        object.__setattr__(self, "B", count("B", self.B))
        object.__setattr__(self, "n", count("n", self.n))
        if self.objective_gap is not None:  # None: certified from the spec (bounds.derive.objective_gap)
            positive("objective_gap", self.objective_gap)
        object.__setattr__(self, "seed", count("seed", self.seed, minimum=0))
        wb = self.weight_bound
        if wb.kind != "entrywise" and len(wb.layer_norms) != len(self.layer_shapes):
            invalid("layer_norms", wb.layer_norms,
                  f"needs one bound per layer: {len(self.layer_shapes)} layers ({', '.join(n for n, _ in self.layer_shapes)})")

    @cached_property  # frozen: computed once per spec (cached_property writes the instance dict directly)
    def layout(self) -> Layout:
        """Where each layer's weight and bias sit in the flat parameter vector (`bounds.layout`)."""
        return parameter_layout(self.model)

    @property
    def layer_shapes(self) -> list[tuple[str, tuple[int, int]]]:
        """(name, (out, in)) of every weight matrix, encoder first, then decoder."""
        return [(slot.name, slot.shape) for slot in self.layout]

    @property
    def n_parameters(self) -> int:
        """d* = d_theta + d_phi (weights and biases; the linear VAE's b and log-variance v included)."""
        return self.layout.size

    @property
    def depth(self) -> int:
        """N: the number of layers of encoder and decoder together."""
        return len(self.layer_shapes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VAESpec":
        """Rebuild a spec from `to_dict` output (validation runs again); a section that is not a table, or a field
        that does not exist, is a `SpecError` naming it."""
        d = dict(table("spec", data))
        model = dict(table("model", d.pop("model", {})))
        if "activation" in model:
            model["activation"] = build(ActivationSpec, "model.activation", model["activation"])
        for key in ("encoder_widths", "decoder_widths", "image_shape", "conv_channels", "data_range"):
            if model.get(key) is not None:
                model[key] = sequence(f"model.{key}", model[key])
        wb = dict(table("weight_bound", d.pop("weight_bound", {})))
        for key in ("layer_norms", "bias_norms"):
            if key in wb:
                wb[key] = sequence(f"weight_bound.{key}", wb[key])
        parts = dict(model=build(ModelSpec, "model", model),
                     objective=build(ObjectiveSpec, "objective", d.pop("objective", {})),
                     optimizer=build(OptimizerSpec, "optimizer", d.pop("optimizer", {})),
                     weight_bound=build(ParameterBound, "weight_bound", wb))
        return build(cls, "spec", {**d, **parts})


def default_spec() -> VAESpec:
    """The embedded default: a small deep Gaussian VAE with soft-clipping, trained by SGD."""
    return VAESpec()
