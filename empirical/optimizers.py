"""SGD, AdaGrad, RMSProp and Adam on one flat parameter vector, in the theory's form or torch.optim's.

All maximise L: they receive the estimator ghat of grad L and minimise V = -L with H = -ghat.
- theory (what bounds/theorems.py analyses): AdaGrad A_k = [delta + (1/(k+1)) sum_{j<=k} H_j^2]^{-1/2};
  RMSProp v_k = beta2 v_{k-1} + (1 - beta2) H_k^2, A_k = (delta + v_k)^{-1/2}; Adam adds m_k = beta1 m_{k-1} +
  (1 - beta1) H_k and steps along A_k m_k; no bias correction.
- torch: torch.optim's formulas: bias-corrected Adam, eps (= delta) outside the square root, AdaGrad on the plain
  sum of squares, RMSProp with alpha = beta2.
The state is a dict of tensors, so a checkpoint restores it exactly. Adaptive steps also keep the certificate's
trail (`preconditioner_trail`): `columns` holds the last step's; and, for the adaptive theorems' per-coordinate
form, each coordinate's running sum of w_k X_k,i and its largest root second moment (`coordinate_sum`).
"""
from __future__ import annotations

import torch

from bounds.spec import OptimizerSpec
from .preconditioner_trail import new_trail, trail_step


def step_weight(k, optimizer: str, beta1: float, beta2: float, form: str = "theory"):
    """w_k, the weight of step k's (0-based; a number or an array) X_k in an adaptive theorem's X_gamma, over
    C_gamma: 1 for AdaGrad, (k+1)^{-1/2} for Adam and RMSProp, times sqrt(1 - beta2^{k+1}) / (1 - beta1^{k+1}) for
    torch's bias-corrected Adam, its effective step (docs/derivations.md, "Torch's Adam and RMSProp"). The one
    definition the trainer's per-coordinate sums and compare's recorded sums both use."""
    if optimizer == "adagrad":
        return 1.0 + 0 * k
    w = (k + 1) ** -0.5
    if optimizer == "adam" and form == "torch":
        w = w * (1 - beta2 ** (k + 1)) ** 0.5 / (1 - beta1 ** (k + 1))
    return w


class FlatOptimizer:
    def __init__(self, spec: OptimizerSpec, form: str, like: torch.Tensor) -> None:
        self.spec, self.form = spec, form
        self.state = {"k": 0, "m": torch.zeros_like(like),
                      "v": torch.zeros_like(like)}
        if spec.name != "sgd":
            self.state.update(trail=new_trail(like), weighted_X=torch.zeros_like(like),
                              coordinate_max=torch.zeros_like(like))
        self.columns: torch.Tensor | None = None  # the trail's columns of the last step (adaptive steps)
        # sum_i max_{l<=k} sqrt(vhat_l,i) sum_{j<=k} w_j X_j,i after the last step (None: SGD, or resumed without them)
        self.coordinate_sum: torch.Tensor | None = None
        self._divisor: torch.Tensor | None = None  # what the last step divided by (`_previous_divisor`)

    def theorem_weight(self, k: int) -> float:
        """w_k, the weight of step k's (0-based) X_k in the adaptive theorem's X_gamma over C_gamma
        (`step_weight`)."""
        o = self.spec
        return float(step_weight(k, o.name, o.beta1, o.beta2, self.form))

    def divisor(self, v: torch.Tensor, k: int) -> torch.Tensor:
        """What the (bias-corrected) momentum is divided by at second-moment state v (step k >= 1): 1 / D_k."""
        o = self.spec
        if o.name == "adagrad":
            return torch.sqrt(o.delta + v / k) if self.form == "theory" else torch.sqrt(v) + o.delta
        if self.form == "theory":
            return torch.sqrt(o.delta + v)
        if o.name == "adam":
            v = v / (1 - o.beta2**k)
        return torch.sqrt(v) + o.delta

    def main_part_preconditioner(self, ghat: torch.Tensor) -> torch.Tensor | None:
        """The stand-in for the preconditioner of the adaptive theorems' main part at the step about to take ghat
        (read, not changed; None for SGD): the smaller of Dbar_k, the previous step's (known before ghat was drawn),
        and the step's own, which holds ghat's square. The proof's preconditioner holds the step's expected square,
        which Dbar alone misses: a coordinate whose past squares are 0 (a dead unit waking) would count 1/delta
        there. A run estimates g^T P g by <g, P g'> (docs/derivations.md, "The preconditioned gradient")."""
        return self.recorded_views(ghat)[1]

    def recorded_views(self, ghat: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(`denominator`, `main_part_preconditioner`) of the step about to take ghat, from one updated second
        moment."""
        if self.spec.name == "sgd":
            return None, None
        k, moment = self.state["k"], self._moment_after(ghat)
        own = self.divisor(moment, k + 1)
        previous = self._previous_divisor()
        return self._denominator_of(moment), 1 / (own if previous is None else torch.maximum(own, previous))

    def _previous_divisor(self) -> torch.Tensor | None:
        """1 / Dbar_k, what the last step divided by (None before the first step): kept from that step, or
        recomputed from the state after resuming."""
        k = self.state["k"]
        if k == 0:
            return None
        if self._divisor is None:
            self._divisor = self.divisor(self.state["v"], k)
        return self._divisor

    def direction(self, ghat: torch.Tensor, lr: float = 1.0) -> torch.Tensor:
        """The ascent direction for L (to be scaled by the step size lr), updating the optimiser's state and, for an
        adaptive step, recording the certificate's trail of it in `columns`."""
        o, st = self.spec, self.state
        if o.name != "sgd":
            self._accumulate(ghat, st["k"])  # step k (0-based), read before the state moves
            previous = self._previous_divisor()
        st["k"] += 1
        k = st["k"]
        if o.name == "sgd":
            return ghat
        H = -ghat
        adagrad = o.name == "adagrad"
        bar = torch.zeros_like(ghat) if previous is None else 1 / previous  # Dbar_k (none before the first step)
        if adagrad:
            st["v"] += H * H
        else:
            st["v"].mul_(o.beta2).add_((1 - o.beta2) * H * H)
        beta1 = o.beta1 if o.name == "adam" else 0.0
        st["m"].mul_(beta1).add_((1 - beta1) * ghat)
        corrected = o.name == "adam" and self.form == "torch"
        self._divisor = self.divisor(st["v"], k)
        out = (st["m"] / (1 - beta1**k) if corrected else st["m"]) / self._divisor
        if "trail" not in st:  # a checkpoint from before the trail: its earlier steps go unrecorded (no certificate)
            st["trail"] = new_trail(ghat)
        self.columns = trail_step(st["trail"], ghat, bar, out, beta1, 1 / (1 - beta1**k) if corrected else 1.0, lr)
        return out

    def _accumulate(self, ghat: torch.Tensor, k: int) -> None:
        """Add step k's w_k X_k,i to each coordinate's sum and its root second moment to the running largest, before
        the state moves (X_k,i = ghat_i^2 / `denominator`); `coordinate_sum` is then the per-coordinate form of
        C_gamma^{-1} X_gamma at horizon k: each coordinate's M_i = max_{l<=k} sqrt(vhat_l,i) in place of the one M_inf
        for all. Lemma 2 uses M_i only as a bound on the coordinate's conditional second moments, which vhat, the
        bias-corrected average of its squares, estimates (docs/derivations.md, "Per-coordinate bounds")."""
        st = self.state
        if "weighted_X" not in st:  # a checkpoint from before these sums: the run records none from here on
            st.update(weighted_X=torch.zeros_like(ghat), coordinate_max=torch.zeros_like(ghat),
                      sums_incomplete=torch.ones(()))
        moment = self._moment_after(ghat)
        st["weighted_X"].add_(self.theorem_weight(k) * ghat.square() / self._denominator_of(moment))
        bias = k + 1 if self.spec.name == "adagrad" else 1 - self.spec.beta2 ** (k + 1)
        torch.maximum(st["coordinate_max"], (moment / bias).sqrt(), out=st["coordinate_max"])
        self.coordinate_sum = None if "sums_incomplete" in st else (st["coordinate_max"] * st["weighted_X"]).sum()

    def _moment_after(self, ghat: torch.Tensor) -> torch.Tensor:
        """The second-moment state once the step taking ghat has updated it (read, not changed): v + ghat^2
        (AdaGrad's sum of squares) or beta2 v + (1 - beta2) ghat^2. Its bias-corrected mean is v / (k+1), resp.
        v / (1 - beta2^{k+1}) at step k (0-based)."""
        o, v = self.spec, self.state["v"]
        return v + ghat.square() if o.name == "adagrad" else o.beta2 * v + (1 - o.beta2) * ghat.square()

    def _denominator_of(self, v: torch.Tensor) -> torch.Tensor:
        """`denominator` at the updated second moment v."""
        o, k = self.spec, self.state["k"]
        if o.name == "adagrad":
            return (k + 1) * o.delta + v
        if self.form == "torch":
            eps = o.delta * (1 - o.beta2 ** (k + 1)) ** 0.5 if o.name == "adam" else o.delta
            return (v.sqrt() + eps).square()
        return o.delta + v

    def denominator(self, ghat: torch.Tensor) -> torch.Tensor | None:
        """The adaptive theorems' X_k,i = H_k,i^2 / denominator_i for the step about to take ghat (batched over leading
        dimensions; the state is read, not changed): delta + v_k (Adam, RMSProp: v_k after its update) or
        (k+1) delta + sum_{j<=k} H_j^2 (AdaGrad, so that C_gamma X_k,i is the analysed update's U_k,i^2 / C_gamma);
        None for SGD. torch's Adam and RMSProp have their own theorem, written in (sqrt(v_k) + eps_k)^2 with
        eps_k = delta sqrt(1 - beta2^{k+1}) (Adam) or delta (RMSProp); torch's AdaGrad records the analysed sum."""
        return None if self.spec.name == "sgd" else self._denominator_of(self._moment_after(ghat))

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        return {k: v.clone() if torch.is_tensor(v) else v for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        device = self.state["m"].device
        self.state = {k: v.clone().to(device) if torch.is_tensor(v) else v for k, v in state.items()}
        self._divisor = None  # recomputed from the restored state


def step_size(C_gamma: float, schedule: str, step: int, epoch: int) -> float:
    """gamma for the update after step `step` (0-based): C_gamma (step + 1)^{-1/2} or C_gamma (epoch + 1)^{-1/2}."""
    return C_gamma / ((step + 1) ** 0.5 if schedule == "per_step" else (epoch + 1) ** 0.5)
