"""A workspace a new user might have: a finished run, config and sweep files, data files of every malformed kind,
broken run folders. Every bad-input case runs against it, and none may change it."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd


def tree_hash(root: Path) -> str:
    """A hash of every path and file content under root."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build(root: Path) -> Path:
    from empirical import TrainConfig, synthetic_linear_gaussian, train
    from tests.problems import SMALL_RUN_CONFIG, small_mlp_spec
    run = root / "run"
    train(small_mlp_spec(n=4), TrainConfig(**{**SMALL_RUN_CONFIG, "probes": 2}),
          synthetic_linear_gaussian(6, 2, n_points=80, data_bound=4.0), out=run)
    (root / "afile.txt").write_text("not a folder\n")
    (root / "notarun").mkdir()
    (root / "notarun" / "images.txt").write_text("someone's data\n")
    data = root / "data"
    data.mkdir()
    np.save(data / "empty.npy", np.zeros((0, 4), dtype=np.float32))
    np.save(data / "norows.npy", np.zeros((3, 0), dtype=np.float32))
    np.savez(data / "empty.npz")
    np.savez(data / "widths.npz", train=np.zeros((5, 4)), test=np.zeros((5, 3)))
    np.savez(data / "three.npz", a=np.zeros((5, 4)), b=np.zeros((5, 4)), c=np.zeros((5, 4)))
    np.save(data / "nan.npy", np.full((6, 4), np.nan))
    np.save(data / "inf.npy", np.full((6, 4), np.inf))
    np.save(data / "onedim.npy", np.zeros(6))
    np.save(data / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(data / "onerow.npy", np.zeros((1, 4)))
    (data / "garbage.npy").write_bytes(b"\x00\x01 not numpy at all")
    (data / "garbage.npz").write_bytes(b"PK\x03\x04 broken zip")
    (data / "table.csv").write_text("a,b\n1,2\n")
    (data / "unrecognised").mkdir()
    (data / "unrecognised" / "x.txt").write_text("?")
    (data / "mnist").mkdir()
    (data / "mnist" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03 truncated")
    good = data / "good.npy"
    np.save(good, np.random.default_rng(0).random((40, 6)).astype(np.float32))
    configs = root / "configs"
    configs.mkdir()
    (configs / "data123.toml").write_text("data = 123\n")
    (configs / "dim64.toml").write_text("[spec.model]\ndata_dim = 64\n")  # named: not fitted to the data
    (configs / "model_string.toml").write_text('[spec]\nmodel = "gaussian"\n')
    (configs / "unknown_field.toml").write_text("[spec.model]\nwidth = 3\n")
    (configs / "unknown_section.toml").write_text("[trian]\nsteps = 3\n")
    (configs / "device5.json").write_text(json.dumps({"train": {"device": 5}}))
    (configs / "garbage.json").write_bytes(b"\xff\xfe\x00garbage")
    (configs / "list.json").write_text("[1, 2]")
    (configs / "bad.toml").write_text("[spec\nn = ")
    (configs / "bad_value.toml").write_text("[spec]\nB = -3\n")
    (configs / "widths_string.toml").write_text('[spec.model]\nencoder_widths = "32"\n')
    sweeps = root / "sweeps"
    sweeps.mkdir()
    (sweeps / "missing_data.toml").write_text('data = "no/such/folder"\n[grid]\n"objective.K" = [1, 2]\n')
    (sweeps / "bad_grid.toml").write_text('[grid]\n"model.nope" = [1, 2]\n')
    (sweeps / "bad_seeds.toml").write_text('seeds = [-1]\n[grid]\n"objective.K" = [1, 2]\n')
    (sweeps / "repeat.toml").write_text('[grid]\n"objective.K" = [1, 1]\n')
    bad = root / "badruns"
    for name in ("garbage_config", "other_columns", "missing_trace", "list_config"):
        shutil.copytree(run, bad / name)
    (bad / "garbage_config" / "config.json").write_bytes(b"\xff\xfe garbage")
    pd.DataFrame({"a": [1, 2]}).to_parquet(bad / "other_columns" / "trace.parquet")
    (bad / "missing_trace" / "trace.parquet").unlink()
    (bad / "list_config" / "config.json").write_text("[]")
    return root
