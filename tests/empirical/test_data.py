"""Data loaders on files written here in each format's own layout; malformed input gives clear errors."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from empirical import DataError, digits, load_path, synthetic_linear_gaussian


def test_embedded_digits_are_real_images_in_the_unit_interval():
    d = digits()
    assert d.dim == 64 and len(d.train) + len(d.test) == 1797 and d.image_shape == (1, 8, 8)
    assert d.train.min() == 0.0 and d.train.max() == 1.0


def test_synthetic_data_respect_the_data_bound_and_store_the_truth():
    d = synthetic_linear_gaussian(5, 2, 300, noise_std=2.0, data_bound=3.0)
    assert np.linalg.norm(d.train, axis=1).max() <= 3.0 + 1e-5 and d.meta["rows_rescaled"] > 0
    assert np.array(d.meta["true_W"]).shape == (5, 2)


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 28, 28)))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (4, 28, 28)))
    d = load_path(tmp_path)
    assert d.train.shape == (10, 784) and d.test.shape == (4, 784) and d.train.max() <= 1
    # named by its folder, with its format, path and content recorded: a run says exactly what it trained on
    described = d.describe()
    assert d.name == tmp_path.name and described["format"] == "mnist-idx"
    assert described["path"] == str(tmp_path.resolve())
    assert described["files"] == ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"]
    assert described["fingerprint"] == load_path(tmp_path).fingerprint  # the same content: the same fingerprint
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (4, 28, 28)))
    assert load_path(tmp_path).fingerprint != described["fingerprint"]  # one test image changed: another data set


def test_malformed_idx_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02")
    with pytest.raises(DataError, match="not a valid idx file"):
        load_path(tmp_path)


def test_cifar100_python_release(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 6), ("test", 2)):
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": np.full((n, 3072), 255, dtype=np.uint8)}, f)
    (folder / "meta").write_bytes(b"")
    d = load_path(folder)
    assert d.name == "cifar100" and d.train.shape == (6, 3072) and d.image_shape == (3, 32, 32)
    (folder / "test").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a CIFAR-100 pickle"):
        load_path(folder)


def test_celeba_folder(tmp_path):
    from PIL import Image
    (tmp_path / "img_align_celeba").mkdir()
    lines = []
    for i, part in enumerate((0, 0, 2)):
        Image.new("RGB", (178, 218), (i * 50, 0, 0)).save(tmp_path / "img_align_celeba" / f"{i:06d}.jpg")
        lines.append(f"{i:06d}.jpg {part}")
    (tmp_path / "list_eval_partition.txt").write_text("\n".join(lines))
    d = load_path(tmp_path)
    assert d.name == "celeba" and d.train.shape == (2, 3 * 64 * 64) and d.test.shape == (1, 3 * 64 * 64)


def test_array_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 3, 2), dtype=np.uint8))
    d = load_path(tmp_path / "x.npy", held_out=0.25)
    assert d.train.shape == (15, 6) and d.test.shape == (5, 6)
    np.savez(tmp_path / "y.npz", train=np.ones((4, 3)), test=np.ones((2, 3)))
    assert load_path(tmp_path / "y.npz").test.shape == (2, 3)
    np.savez(tmp_path / "z.npz", a=np.ones((4, 3)), b=np.ones((2, 3)))
    with pytest.raises(DataError, match="needs arrays 'train' and 'test'"):
        load_path(tmp_path / "z.npz")
    np.save(tmp_path / "nan.npy", np.full((4, 3), np.nan))
    with pytest.raises(DataError, match="finite"):
        load_path(tmp_path / "nan.npy")


@pytest.mark.parametrize("name,match", [("missing", "does not exist"), ("file.txt", "must be .npy or .npz"),
                                        ("empty_folder", "not a recognised data set folder")])
def test_bad_paths(tmp_path, name, match):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(DataError, match=match):
        load_path(tmp_path / name)
