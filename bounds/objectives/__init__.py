"""Smoothness constants and estimator variances of the VAE objectives (linear, deep Gaussian, Bernoulli, IWAE, BBVI)."""
