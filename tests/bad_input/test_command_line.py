"""Bad input on the command line: every case exits 2 with one line on stderr that names the option, file or
setting and what is allowed, and leaves the workspace exactly as it was (hashes before and after)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from compare.cli import main
from tests.bad_input.workspace import build, tree_hash

BOUND_VALUES = [  # (option, bad value, what the message names)
    ("--B", "0", "B=0"), ("--B", "-1", "B=-1"), ("--B", "x", "--B"), ("--B", "1.5", "--B"),
    ("--K", "0", "K=0"), ("--K", "-2", "K=-2"), ("--n", "0", "n=0"), ("--n", "-5", "n=-5"),
    ("--beta", "-1", "beta=-1"), ("--beta", "nan", "beta=nan"), ("--beta", "inf", "beta=inf"),
    ("--C-gamma", "0", "C_gamma=0"), ("--C-gamma", "-1", "C_gamma=-1"), ("--C-gamma", "nan", "C_gamma=nan"),
    ("--C-gamma", "inf", "C_gamma=inf"), ("--a", "0", "a=0"), ("--a", "-0.1", "a=-0.1"), ("--a", "nan", "a=nan"),
    ("--decoder-std", "0", "decoder_std=0"), ("--decoder-std", "-1", "decoder_std=-1"),
    ("--data-bound", "-1", "data_bound=-1"), ("--data-bound", "nan", "data_bound=nan"),
    ("--L-star", "0", "objective_gap=0"), ("--L-star", "-3", "objective_gap=-3"), ("--s", "0", "s=0"),
    ("--s", "-2", "s=-2"), ("--s1", "60", "s1=60"), ("--s2", "-1", "s1=0"), ("--mean-clip", "0", "mean_clip=0"),
    ("--logvar-min", "5", "logvar_min=5"), ("--logvar-max", "-7", "logvar_min=-6"), ("--head-s", "0", "head_s=0"),
    ("--beta1", "1", "beta1=1"), ("--beta2", "0", "beta2=0"), ("--beta2", "1", "beta2=1"), ("--delta", "0", "delta=0"),
    ("--data-dim", "0", "data_dim=0"), ("--latent-dim", "0", "latent_dim=0"), ("--encoder-widths", "0", "encoder_widths"),
    ("--encoder-widths", "a,b", "--encoder-widths"), ("--layer-norms", "x", "--layer-norms"),
    ("--model", "gauss", "--model"), ("--objective", "vae", "--objective"), ("--estimator", "reinforce", "--estimator"),
    ("--optimizer", "lbfgs", "--optimizer"), ("--format", "yaml", "--format"), ("--which", "rate", "--which"),
    ("--activation", "swish", "--activation"), ("--norm-kind", "nuclear", "--norm-kind"), ("--alpha", "0", "alpha=0"),
    ("--negative-slope", "-1", "negative_slope=-1"),
]

BOUND_OTHERS = [
    (["--M", "inf", "--optimizer", "adam"], "--M=inf"), (["--M", "0", "--optimizer", "adam"], "--M=0"),
    (["--M", "nan", "--optimizer", "adam"], "--M=nan"), (["--M", "3"], "--M is the adaptive"),
    (["--M-inf", "0", "--optimizer", "rmsprop"], "--M-inf=0"), (["--M-inf", "1"], "--M-inf is the adaptive"),
    (["--layer-norms", "1,1,1,1"], "--layer-norms"), (["--bias-norms", "1"], "--layer-norms"),
    (["--grid", "B=1", "--grid", "B=2"], "given twice"), (["--grid", "Q=1"], "--grid 'Q=1'"),
    (["--grid", "B="], "no values"), (["--grid", "B=x"], "must be numbers"), (["--grid", "K=1.5"], "K=1.5"),
    (["--grid", "B=0,16"], "B=0"), (["--grid", "beta=-1"], "beta=-1"), (["--grid", "B"], "--grid 'B'"),
    (["--latent-dim", "100000000", "--data-dim", "100000000"], "latent_dim=100000000"),
    (["--objective", "iwae", "--estimator", "score", "--K", "2"], "estimator='score'"),
    (["--objective", "vr_iwae", "--K", "2", "--renyi-alpha", "1"], "alpha=1.0"),
    (["--objective", "vr_iwae", "--K", "2", "--grid", "renyi_alpha=0.5,1"], "alpha=1.0"),
    (["--objective", "elbo", "--beta", "0.5"], "beta=0.5"), (["--activation", "relu"], "relu"),
    (["--model", "bernoulli", "--data-bound", "100"], "data_bound=100"),
    (["--norm-kind", "spectral", "--layer-norms", "1,2"], "layer_norms"),
    (["--optimizer", "adam", "--beta1", "0.999", "--beta2", "0.9"], "beta1=0.999"),
]

OTHER_COMMANDS = [
    (["train", "--out", "{ws}/afile.txt", "--steps", "2"], "is a file"),
    (["train", "--out", "{ws}/notarun", "--steps", "2"], "not empty and holds no run"),
    (["train", "--out", "{ws}/new", "--data", ""], "data=''"),
    (["train", "--out", "{ws}/new", "--steps", "0"], "steps=0"),
    (["train", "--out", "{ws}/new", "--steps", "-3"], "steps=-3"),
    (["train", "--out", "{ws}/new", "--seed", "-1"], "seed=-1"),
    (["train", "--out", "{ws}/new", "--device", "tpu"], "device='tpu'"),
    (["train", "--out", "{ws}/new", "--config", "{ws}/configs/missing.toml"], "does not exist"),
    (["train", "--out", "{ws}/run", "--seed", "7"], "holds a different run"),
    (["train", "--out", "{ws}/new", "--data", "{ws}/no/such/path"], "does not exist"),
    *[(["train", "--out", "{ws}/new", "--data", f"{{ws}}/data/{name}"], name) for name in (
        "empty.npy", "norows.npy", "empty.npz", "widths.npz", "three.npz", "nan.npy", "inf.npy", "onedim.npy",
        "text.npy", "onerow.npy", "garbage.npy", "garbage.npz", "table.csv", "unrecognised", "mnist")],
    # a local data set fits the spec by default; kept as the config gives it, a mismatch is refused by name
    (["train", "--out", "{ws}/new", "--data", "{ws}/data/good.npy", "--no-fit-data"], "data_dim=64"),
    (["train", "--out", "{ws}/new", "--data", "{ws}/data/good.npy", "--config", "{ws}/configs/dim64.toml"],
     "data_dim=64"),
    *[(["train", "--out", "{ws}/new", "--config", f"{{ws}}/configs/{name}"], hint) for name, hint in (
        ("data123.toml", "data=123"), ("model_string.toml", "model='gaussian'"), ("unknown_field.toml", "width"),
        ("unknown_section.toml", "trian"), ("device5.json", "device=5"), ("garbage.json", "garbage.json"),
        ("list.json", "list.json"), ("bad.toml", "bad.toml"), ("bad_value.toml", "B=-3"),
        ("widths_string.toml", "encoder_widths"))],
    (["compare", "{ws}/badruns/garbage_config"], "garbage_config"),
    (["compare", "{ws}/badruns/other_columns"], "no column 'step'"),
    (["compare", "{ws}/badruns/missing_trace"], "has no trace.parquet"),
    (["compare", "{ws}/badruns/list_config"], "not a vaebound run config"),
    (["compare", "{ws}/no/such/run"], "does not exist"), (["compare", "{ws}/afile.txt"], "is not a folder"),
    (["compare", "{ws}/notarun"], "holds no run"), (["compare", "{ws}/run", "--format", "yaml"], "--format"),
    (["report", "{ws}/run", "-o", "{ws}/afile.txt/x.html"], "does not exist"),
    (["report", "{ws}/run", "-o", "{ws}/no/such/dir/x.html"], "does not exist"),
    (["report", "{ws}/run", "-o", "{ws}/notarun"], "is a folder"),
    (["report", "{ws}/badruns/other_columns", "-o", "{ws}/r.html"], "no column 'step'"),
    (["report", "{ws}/run"], "-o/--output"),
    (["sweep", "{ws}/sweeps/none.toml", "--out", "{ws}/s"], "does not exist"),
    (["sweep", "{ws}/sweeps/missing_data.toml", "--out", "{ws}/s"], "no/such/folder"),
    (["sweep", "{ws}/sweeps/bad_grid.toml", "--out", "{ws}/s"], "model.nope"),
    (["sweep", "{ws}/sweeps/bad_seeds.toml", "--out", "{ws}/s"], "seeds"),
    (["sweep", "{ws}/sweeps/repeat.toml", "--out", "{ws}/s"], "the same run"),
    (["sweep", "{ws}/sweeps/repeat.toml", "--out", "{ws}/s", "--workers", "0"], "--workers=0"),
    (["sweep", "{ws}/sweeps/repeat.toml", "--out", "{ws}/afile.txt"], "is a file"),
    (["sweep", "{ws}/sweeps/repeat.toml", "--out", "{ws}/s", "--backend", "dask"], "--address"),
    (["sweep", "{ws}/sweeps/repeat.toml", "--out", "{ws}/s", "--ensemble", "maybe"], "--ensemble"),
    (["reproduce", "nosuch", "--out", "{ws}/r"], "nosuch"),
    (["reproduce", "beta", "--workers", "0", "--out", "{ws}/r"], "--workers=0"),
    (["reproduce", "beta", "--scale", "paper", "--out", "{ws}/r"], "--data is required"),
    (["reproduce", "beta", "--scale", "paper", "--data", "{ws}/no/such", "--out", "{ws}/r"], "does not exist"),
    (["reproduce", "beta", "--scale", "huge", "--out", "{ws}/r"], "--scale"),
    (["demo", "--steps", "5", "--out", "{ws}/d"], "--steps=5"), (["demo", "--seeds", "0", "--out", "{ws}/d"], "--seeds=0"),
    (["demo", "--out", "{ws}/afile.txt"], "is a file"), (["demo", "--steps", "x"], "--steps"),
    (["nosuchcommand"], "invalid choice"), ([], "required"),
]

CASES = ([(["bound", option, value], needle) for option, value, needle in BOUND_VALUES]
         + [(["bound", *argv], needle) for argv, needle in BOUND_OTHERS] + OTHER_COMMANDS)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("workspace"))


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(a)[:70] for a, _ in CASES])
def test_bad_input_exits_2_with_one_clear_line_and_changes_nothing(workspace, capsys, argv, needle):
    before = tree_hash(workspace)
    argv = [a.replace("{ws}", str(workspace)) for a in argv]
    with pytest.raises(SystemExit) if _argparse_level(argv) else _no_exit() as caught:
        code = main(argv)
    if caught is not None:
        code = caught.value.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}; stderr: {err[-500:]}"
    assert len(lines) == 1, err
    assert needle.replace("{ws}", str(workspace)) in lines[0], lines[0]
    assert "Traceback" not in err
    assert tree_hash(workspace) == before, "the workspace changed"


def _argparse_level(argv: list[str]) -> bool:
    """Mistakes argparse itself catches exit through SystemExit(2)."""
    from compare.cli.main import build_parser
    try:
        import contextlib
        import io
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit:
        return True
    return False


class _no_exit:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_there_are_enough_cases():
    assert len(CASES) >= 120 and not any(math.isnan(len(a)) for a, _ in CASES)
