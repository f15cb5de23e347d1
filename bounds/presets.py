"""Ready-made specs: the training default for the embedded digits, the paper's image networks, and black-box VI of a
logistic regression on the embedded breast-cancer data."""
from __future__ import annotations

import math

from .spec import ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, VAESpec
from .validate import invalid


def digits_spec() -> VAESpec:
    """The training default: a small smooth Gaussian VAE (soft-clipping) for the embedded 8x8 digits (64 pixels in
    [0, 1], so ||x|| <= 8 and, with the sigmoid decoder, ||x - G|| <= 8), trained by SGD with the theory's steps
    C_gamma k^{-1/2}."""
    model = ModelSpec(data_dim=64, latent_dim=4, encoder_widths=(32,), decoder_widths=(32,), data_bound=8.0,
                      data_range=(0.0, 1.0))
    return VAESpec(model=model, optimizer=OptimizerSpec("sgd", C_gamma=0.05), B=32, n=1000)


def paper_image_spec(dataset: str, latent_dim: int = 100) -> VAESpec:
    """The paper's image VAEs (docs/reproduction.md): Bernoulli decoder, soft-clipping, Adam, B = 256.

    cifar100: Conv 3-32-64-128, Linear 2048-256, heads; decoder Linear d_z-256-2048, ConvTranspose 128-64-32-3.
    celeba:   Conv 3-64-128-256-512, Linear 8192-1024, heads; the mirrored decoder.
    Train it with `empirical.paper_train_config()` (torch.optim's Adam, lr 1e-3 / sqrt(epoch + 1)).
    """
    layouts = {"cifar100": ((3, 32, 32), (32, 64, 128), 256), "celeba": ((3, 64, 64), (64, 128, 256, 512), 1024)}
    if dataset not in layouts:
        invalid("dataset", dataset, f"must be one of {', '.join(layouts)}")
    shape, channels, hidden = layouts[dataset]
    dim = shape[0] * shape[1] * shape[2]
    model = ModelSpec(kind="bernoulli", data_dim=dim, latent_dim=latent_dim, encoder_widths=(hidden,),
                      decoder_widths=(hidden,), data_bound=math.sqrt(dim), architecture="conv", image_shape=shape,
                      conv_channels=channels)
    return VAESpec(model=model, optimizer=OptimizerSpec("adam", C_gamma=1e-3, beta1=0.9, beta2=0.999, delta=1e-8),
                   B=256, n=100 * 50_000 // 256)


# scikit-learn's breast-cancer rows as `empirical.data.breast_cancer` builds them (an intercept, then standardised
# features): their largest row norm, rounded up, by the number of columns kept; 455 training rows at the default
# held-out fraction 0.2.
BREAST_CANCER_NORMS = {31: 20.6, 11: 9.8}
BREAST_CANCER_TRAIN = 455


def logistic_spec(family: str = "gaussian", estimator: str | None = None) -> VAESpec:
    """Black-box VI of the Bayesian logistic regression on the embedded breast-cancer data (`--data breast-cancer`).

    gaussian: q = N(mu, diag(exp(v))) over the 31 coefficients, |mu_j| <= a = 2, v in [-10, 0]; pathwise by default,
    or the score function. bernoulli: the product-Bernoulli family over z in {0, 1}^11 (the intercept and the ten
    "mean" features), logits |phi_j| <= a = 2, score function only; its ELBO is summed exactly over the 2^11 states.
    """
    d = 31 if family == "gaussian" else 11
    model = ModelSpec(kind="logistic", data_dim=d, latent_dim=d, encoder_widths=(), decoder_widths=(),
                      data_bound=BREAST_CANCER_NORMS.get(d, 1.0), logvar_min=-10.0, logvar_max=0.0,
                      n_observations=BREAST_CANCER_TRAIN, family=family)
    estimator = estimator or ("pathwise" if family == "gaussian" else "score")
    return VAESpec(model=model, objective=ObjectiveSpec("elbo", K=1), estimator=estimator,
                   optimizer=OptimizerSpec("sgd", C_gamma=1e-4), weight_bound=ParameterBound("entrywise", a=2.0),
                   B=32, n=2000)
