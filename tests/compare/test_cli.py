"""The `vaebound bound` command line: formats, grids, and one-line errors with exit code 2."""
from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from bounds import derive as D
from bounds.registry import SETTINGS
from bounds.presets import digits_spec
from compare.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_prints_the_bound(capsys):
    code, out, _ = run(capsys, "bound")
    assert code == 0 and "value =" in out and "dominant" in out


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop", "adam"])
def test_an_adaptive_bound_above_M_squared_is_called_vacuous(capsys, optimizer):
    """||grad L||^2 <= M^2 by the adaptive theorems' assumption, so a bound above it says nothing, and says so; with
    a tiny M the same theorem is below M^2 = 1e16 at large n and is not labelled."""
    code, out, _ = run(capsys, "bound", "--optimizer", optimizer)
    assert code == 0 and "vacuous: above M^2" in out
    code, out, _ = run(capsys, "bound", "--optimizer", optimizer, "--M", "1e8", "--M-inf", "1e-3",
                       "--C-gamma", "1e-3", "--grid", "n=1e30")
    assert code == 0 and "vacuous" not in out


def test_json_has_the_required_keys_per_setting(capsys):
    code, out, _ = run(capsys, "bound", "--grid", "B=16,64", "--grid", "K=1,5", "--format", "json")
    doc = json.loads(out)  # one document
    rows = doc["points"]
    assert code == 0 and len(rows) == 4
    assert {"name", "status", "reference", "assumptions"} <= doc["bound"].keys() and "expression" not in doc["bound"]
    for row in rows:
        assert {"value", "terms", "dominant_term", "conditions"} <= row.keys()
    by = {(r["settings"]["B"], r["settings"]["K"]): r["value"] for r in rows}
    assert by[(64, 5)] < by[(16, 5)] and by[(16, 5)] < by[(16, 1)]


@pytest.mark.parametrize("fmt,needle", [("latex", "\\begin{equation}"), ("csv", "value"), ("text", "reference")])
def test_formats(capsys, fmt, needle):
    code, out, _ = run(capsys, "bound", "--which", "smoothness", "--model", "linear", "--format", fmt)
    assert code == 0 and needle in out


@pytest.mark.parametrize("argv,needle", [
    (["--B", "0"], "B=0"), (["--K", "-1"], "K=-1"), (["--beta", "-1"], "beta=-1"),
    (["--s1", "3", "--s2", "1"], "s1=3"), (["--n", "0"], "n=0"), (["--decoder-std", "nan"], "decoder_std=nan"),
    (["--grid", "B=1,0"], "B=0"), (["--grid", "Q=1"], "--grid"), (["--activation", "relu"], "not smooth"),
    (["--optimizer", "adam", "--beta1", "0.999", "--beta2", "0.9"], "beta1"), (["--M", "-1", "--optimizer", "adagrad"], "--M"),
    (["--form", "torch"], "--form torch"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, "bound", *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bound", "--B", "many"])
    assert exc.value.code == 2


def test_outside_theory_is_labelled(capsys):
    code, out, _ = run(capsys, "bound", "--activation", "relu", "--outside-theory", "--format", "json")
    assert code == 0 and json.loads(out)["bound"]["status"] == "outside-theory"


def test_train_command_writes_a_run_and_refuses_bad_input(tmp_path, capsys):
    from empirical import load_run
    config = tmp_path / "c.toml"
    config.write_text('data = "synthetic"\n[spec]\nB = 16\nn = 20\n[spec.model]\ndata_dim = 5\nlatent_dim = 2\n'
                      'encoder_widths = [4]\ndecoder_widths = [4]\n[train]\nprobes = 3\nhessian_points = 16\n')
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--no-progress",
                 "--anchor-every", "5"]) == 0
    assert "run finished after 20 steps" in capsys.readouterr().out
    run = load_run(tmp_path / "run")
    assert len(run.trace) == 21 and run.config["spec"]["B"] == 16
    assert list(run.trace.dropna(subset=["anchor_grad_norm_sq"])["step"]) == [0, 5, 10, 15, 20]
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv, message in [(["--steps", "0"], "steps=0 is invalid"), (["--seed", "-1"], "seed=-1 is invalid"),
                          (["--data", str(tmp_path / "nope")], "does not exist"),
                          (["--config", str(tmp_path / "nope.json")], "does not exist"),
                          (["--device", "tpu"], "device='tpu' is invalid"),
                          (["--anchor-every", "-2"], "anchor_every=-2 is invalid")]:
        assert main(["train", "--out", str(tmp_path / "bad"), "--no-progress", *argv]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written by a refused command


def _changed(setting, value):
    """A valid value of the setting other than its default (ordered pairs stay ordered)."""
    if value is None:  # L_star: certified from the spec unless given
        return 50.0
    if setting.name in ("s1", "logvar_min"):
        return value - 0.5
    if setting.name in ("beta1", "beta2"):
        return value / 2 if setting.name == "beta1" else 0.99
    if setting.name == "renyi_alpha":
        return 0.5
    return value + 1 if setting.integer else value * 1.5 + 0.25


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.flag], ids=lambda s: s.name)
def test_each_option_sets_its_registry_path_and_its_symbol_value(setting):
    """A misrouted option (c into data_bound, L_star into n) would change the wrong quantity of the bound."""
    from compare.cli.bound_command import add_parser, spec_from_args
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    default = setting.read(digits_spec())
    value = _changed(setting, default)
    extra = {"beta": ["--objective", "beta"], "renyi_alpha": ["--objective", "vr_iwae"]}.get(setting.name, [])
    spec = spec_from_args(parser.parse_args(["bound", setting.flag, str(value), *extra]))
    assert setting.read(spec) == pytest.approx(value)
    assert D.spec_values(spec)[setting.name] == pytest.approx(value)
    others = {s.name: s.read(spec) for s in SETTINGS if s is not setting}
    assert others == {s.name: s.read(digits_spec()) for s in SETTINGS if s is not setting}


@pytest.mark.parametrize("preset", ["cifar100", "celeba"])
def test_a_preset_is_the_base_the_options_change(preset):
    """--preset cifar100 is the paper's conv VAE; an option given changes only its own setting."""
    from bounds.presets import paper_image_spec
    from compare.cli.bound_command import add_parser, spec_from_args
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    assert spec_from_args(parser.parse_args(["bound", "--preset", preset])) == paper_image_spec(preset)
    spec = spec_from_args(parser.parse_args(["bound", "--preset", preset, "--B", "64"]))
    assert spec == dataclasses.replace(paper_image_spec(preset), B=64)


def test_the_default_step_is_one_over_L_at_every_grid_point(capsys):
    """The vectorised default C_gamma (one derived L over the grid's rows) against each point derived alone."""
    from bounds.registry import with_settings
    from compare.cli.bound_command import LARGEST_STEP, settings_frame
    spec = digits_spec()
    frame = settings_frame(spec, {"a": [0.05, 0.1, 0.3], "s": [1.0, 5.0]}, None, False, step_from_L=True)
    for _, row in frame.iterrows():
        point = with_settings(spec, {"a": row["a"], "s": row["s"]})
        L = D.smoothness(point).evaluate(D.spec_values(point))
        assert row["C_gamma"] == pytest.approx(LARGEST_STEP / L, rel=1e-12)
    code, out, _ = run(capsys, "bound", "--grid", "a=0.05,0.1")
    assert code == 0 and out.count("condition C_gamma * L <= 1: holds") == 2


def test_bound_prints_the_paper_cifar100_nets_bound(capsys):
    """The paper's own experiment has a bound: its conv nets go through the network recursion."""
    assert main(["bound", "--preset", "cifar100", "--which", "smoothness"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("L_P  [extension]") and "value = " in out


def test_bound_for_torchs_adam_is_its_own_theorem(capsys):
    """--form torch gives torch.optim's Adam its own theorem (bias-corrected, eps outside the root): another
    reference and value than the analysed Adam's at the same settings."""
    code, analysed, _ = run(capsys, "bound", "--optimizer", "adam", "--format", "json")
    code_torch, torch_form, _ = run(capsys, "bound", "--optimizer", "adam", "--form", "torch", "--format", "json")
    a, t = json.loads(analysed), json.loads(torch_form)
    assert code == code_torch == 0
    assert a["bound"]["reference"].endswith("#adam-and-rmsprop")
    assert t["bound"]["reference"].endswith("#torchs-adam-and-rmsprop")
    assert t["points"][0]["value"] != a["points"][0]["value"]
