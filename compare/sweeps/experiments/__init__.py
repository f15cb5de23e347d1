"""Ready-made sweep files for the paper's experiments (docs/reproduction.md), at two scales.

reduced/: the embedded 8x8 digits, a small Bernoulli VAE trained as the paper's code trains (torch.optim's Adam,
lr 1e-3 / sqrt(epoch + 1), reshuffled epochs), minutes on a 2-core CPU. paper/: the paper's CIFAR-100 or CelebA
networks on a local data path (`vaebound reproduce NAME --scale paper --data PATH`), hours on a GPU.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
SCALES = ("reduced", "paper")


def names(scale: str) -> list[str]:
    return sorted(p.stem for p in (HERE / scale).glob("*.toml"))


def path(name: str, scale: str) -> Path:
    """The sweep file of an experiment; an unknown name or scale raises ValueError listing the known ones."""
    if scale not in SCALES:
        raise ValueError(f"--scale={scale!r} is invalid: must be one of {', '.join(SCALES)}")
    file = HERE / scale / f"{name}.toml"
    if not file.exists():
        raise ValueError(f"experiment {name!r} is unknown at scale {scale!r}: known are {', '.join(names(scale))}")
    return file
