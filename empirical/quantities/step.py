"""What the trainer records at every step, in its one host sync per step (declared here; computed in `Trainer`):
the mini-batch objective and gradient norm, the per-step unbiased ||grad L||^2, the compact-set norms, and the
projection's columns."""
from __future__ import annotations

import math

from .base import EPOCH, STEP, Constant, Quantity, column_max

QUANTITIES = [
    Quantity("schedule", {
        "step": "k, the iterate theta_k the row describes (0..n)",
        "epoch": "passes over the training set completed before step k",
        "K": "draws per data point used at this step (the K schedule)",
        "lr": "step size gamma_{k+1} of the update after theta_k",
        "wall_time": "seconds since the run started (resumed runs continue the count)",
        "probe_seconds": "probe: seconds the probes at this step took",
        "probe_skipped": "a scheduled probe not taken: it would have put the probes over the time budget "
                         "(`probe_budget`, training sets of more than 4,096 points; empirical.probe_plan)",
    }, when=STEP),
    Quantity("minibatch", {
        "objective_batch": "mini-batch estimate of the objective, per-example mean",
        "grad_norm_sq": "||ghat_k||^2 of the mini-batch gradient used for the step, per-example mean loss",
        "grad_norm_sq_theta": "the decoder (theta) part of grad_norm_sq",
        "grad_norm_sq_phi": "the encoder (phi) part of grad_norm_sq",
    }, when=STEP, constant=Constant("M", "gradient bound: largest ||ghat_k|| along the run",
                                    lambda t: math.sqrt(column_max(t, "grad_norm_sq")))),
    Quantity("coordinate_bound", {
        "grad_abs_max": "||ghat_k||_inf, the largest coordinate of the mini-batch gradient used for the step",
    }, when=STEP, constant=Constant("M_inf", "coordinate bound: largest |ghat_k,i| along the run",
                                    lambda t: column_max(t, "grad_abs_max"))),
    Quantity("adaptive_sum", {
        "adaptive_step_sq": "adaptive optimisers: sum_i ghat_k,i^2 / (delta + v_k,i), v_k after the step's update "
                            "(AdaGrad: / ((k+1) delta + sum_{j<=k} ghat_j,i^2); torch's Adam and RMSProp: / "
                            "(sqrt(v_k,i) + eps_k)^2, eps_k = delta sqrt(1 - beta2^{k+1}) for Adam, delta for "
                            "RMSProp): the X_k of the adaptive theorems, "
                            "whose weighted sums over k the a-posteriori bound puts in for the lemmas' bounds",
        "adaptive_coordinate_sum": "adaptive optimisers: sum_i M_i(k) sum_{j<=k} w_j X_j,i, "
                                   "M_i(k) = max_{l<=k} sqrt(vhat_l,i) (the coordinate's bias-corrected mean "
                                   "square, AdaGrad's running mean) and w_j the theorem's weight over C_gamma "
                                   "((j+1)^{-1/2}, torch's Adam: its effective step; AdaGrad: 1): the per-coordinate "
                                   "form of M_inf X_gamma / C_gamma (docs/derivations.md, \"Per-coordinate bounds\"); "
                                   "none after resuming from a checkpoint that lacks its sums",
    }, when=STEP),
    Quantity("unbiased_grad_norm", {
        "grad_norm_sq_unbiased": "<g_k, g'_k> of two conditionally independent unbiased mini-batch gradients at "
                                 "theta_k: an unbiased estimate of ||grad L(theta_k)||^2 (may be negative); its running "
                                 "mean estimates the theorem's (1/(n+1)) sum_k E||grad L(theta_k)||^2",
        "grad_precond_sq_estimate": "adaptive optimisers: <g_k, P_k g'_k> of the same two gradients, P_k the "
                                    "smaller of the previous step's preconditioner and the step's own: an estimate "
                                    "of the theorems' main part grad L^T P_k grad L, biased low where the step's own "
                                    "square sets P_k (docs/derivations.md, \"The preconditioned gradient\")",
        "pair_first_norm_sq": "||g_k||^2 of the first of those two gradients (with the split estimator, half A's mean "
                              "gradient): the certificate's estimate form weighs the other half's noise by it",
    }, when=STEP),
    Quantity("example_norms", {
        "example_norm_sum": "`example_norms` (on by default): sum over the step's B examples of each "
                            "example's own gradient norm ||h_i|| (its K-draw mean; the step's gradient is their mean)",
        "example_norm_sq_sum": "the same batch's sum of ||h_i||^2: with example_norm_sum, what the run's certificate "
                               "prices its noise by (compare.certificate_noise)",
        "ghost_gap_sq": "reshuffled epochs: ||ghat_k - ghost_k||^2, ghost_k the gradient of the fresh batch the step "
                        "draws with replacement (unbiased given the past; the certificate's ghost form)",
        "ghost_example_norm_sum": "reshuffled epochs: the fresh batch's sum of its examples' gradient norms",
        "ghost_example_norm_sq_sum": "reshuffled epochs: the fresh batch's sum of its examples' squared gradient norms",
        "ghost_batch": "reshuffled epochs: the fresh batch's size B' (norm_batch, or B)",
    }, when=STEP),
    Quantity("anchors", {
        "anchor_grad_norm_sq": "`anchor_every`: an unbiased estimate of ||grad L(theta_k)||^2 (the probes' U-statistic "
                               "on anchor_points random training points each): where the certificate's bound on "
                               "||grad L|| starts (compare.certificate_noise.gradient_norm_bounds)",
        "anchor_grad_norm_sq_se": "its standard error (jackknife over the replicates; 0 when exact)",
        "anchor_points": "the training points of each anchor replicate (a uniform subset, without replacement)",
        "anchor_replicate_sq.<j>": "||g_j||^2 of the anchor's replicate j (its order of drawing): the certificate's "
                                   "estimate form from the anchors weighs the later replicates' noise by them",
    }, when=STEP),
    Quantity("preconditioner_trail", {
        "precond_min": "adaptive optimisers: min_i Dbar_k,i, the predictable preconditioner (the step's own square "
                       "left out of v_k; empirical/preconditioner_trail.py)",
        "precond_max": "adaptive optimisers: max_i Dbar_k,i",
        "momentum_weight": "adaptive optimisers: c_kk, the weight of ghat_k in the (bias-corrected) momentum mhat_k",
        "step_norm_sq": "adaptive optimisers: ||theta_{k+1} - theta_k||^2 = gamma_k^2 ||D_k mhat_k||^2",
        "precond_lag.<kappa>": "adaptive optimisers: ||D_k mhat_k - Mtilde_k|| for the momentum Mtilde of the "
                               "gradients preconditioned by Dbar capped at kappa min Dbar (what the certificate's "
                               "predictable form does not explain)",
        "precond_grad.<kappa>": "adaptive optimisers: ||min(Dbar_k, kappa min Dbar_k) ghat_k||",
    }, when=STEP),
    Quantity("compact_set", {
        "inf_norm_theta": "||theta_k||_inf over the entries bounded by a",
        "inf_norm_phi": "the same for phi (the linear VAE's log-variances v are bounded by [logvar_min, logvar_max] "
                        "instead: logvar_low/high)",
        "inf_norm_sum": "||theta_k||_inf + ||phi_k||_inf, the paper's compact-set quantity (bound: a)",
        "logvar_low": "linear VAE: smallest log-variance parameter v_j (bound: logvar_min)",
        "logvar_high": "linear VAE: largest log-variance parameter v_j (bound: logvar_max)",
    }, when=STEP, constant=Constant("a", "parameter bound: largest ||theta||_inf or ||phi||_inf along the run "
                                         "(entries bounded by a)",
                                    lambda t: max(column_max(t, "inf_norm_theta"), column_max(t, "inf_norm_phi")))),
    Quantity("projection", {
        "projection_distance": "projected runs: ||Pi(y) - y|| for the unprojected update y of theta_k (0: the "
                               "projection did not act)",
        "grad_mapping_sq": "projected runs: ||G_t(theta_k)||^2, the gradient mapping G_t = (Pi(theta + t grad L) - "
                           "theta) / t at t = C_gamma; exact for the linear ELBO, else <G_t(g), G_t(g')> of the "
                           "step's two conditionally independent unbiased gradients (the halves of one batch with "
                           "the split estimator): unbiased for ||E G_t(g)||^2, within the standard deviation of g "
                           "of ||G_t(grad L)||",
    }, when=STEP),
    Quantity("paper_statistic", {
        "paper_grad_stat": "at the last step of each epoch: the paper's statistic, sum over the epoch's batches of "
                           "||grad of the batch-SUMMED loss||^2 / (training-set size x parameter count)",
    }, when=EPOCH),
]
