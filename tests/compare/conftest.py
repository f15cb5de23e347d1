"""Real run folders for the command-line and report tests: two tiny runs trained once per session."""
from __future__ import annotations

import pytest

from empirical import TrainConfig, synthetic_linear_gaussian, train
from tests.compare.fakes import theory_spec
from tests.problems import SMALL_RUN_CONFIG

SMALL = SMALL_RUN_CONFIG


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory):
    """runs/inside (the theorem's conditions) and runs/practical (reshuffled epochs, larger steps)."""
    root = tmp_path_factory.mktemp("runs")
    spec = theory_spec(n=50)
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    train(spec, TrainConfig(batches="independent", project=True, **SMALL), data, out=root / "inside")
    practical = spec.to_dict()
    practical["optimizer"]["C_gamma"] = 0.1
    from bounds.spec import VAESpec
    train(VAESpec.from_dict(practical), TrainConfig(**SMALL), data, out=root / "practical")
    return root
