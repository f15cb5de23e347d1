"""Data sets read from a local path (never downloaded): MNIST-format idx folders, CIFAR-100's python release,
CelebA's image folder, and .npy/.npz arrays; `load_path` recognises the format from what is there. Each records where
it came from (format, resolved path, files read) beside its content fingerprint (`Dataset.fingerprint`)."""
from __future__ import annotations

import gzip
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .data import DataError, Dataset, check_split, split


def _folder_name(path: Path) -> str:
    """An idx folder is named by the folder (`mnist`, `fashion-mnist`, or whatever the user's images are), not by
    its file format, which many data sets share: the format is recorded beside it."""
    return path.resolve().name or str(path)


def _provenance(kind: str, path: Path, files: list[Path], **settings: Any) -> dict[str, Any]:
    """Where a data set was read from: its format, the resolved path and the files read (the content fingerprint is
    `Dataset.fingerprint`)."""
    return {"format": kind, "path": str(path.resolve()), "files": [f.name for f in files],
            **{k: v for k, v in settings.items() if v is not None}}


def _must_exist(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"data path {str(path)!r} does not exist")
    return path


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
        shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("not an unsigned-byte idx file")
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (OSError, ValueError, struct.error) as exc:
        raise DataError(f"data path {str(path)!r} is not a valid idx file: {exc}") from None


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise DataError(f"data path {str(folder)!r} has no {stem}[.gz] (MNIST idx layout)")


def mnist(path: Path) -> Dataset:
    """MNIST from its idx files: train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz] in one folder."""
    files = [_find(path, "train-images-idx3-ubyte")]
    train = _read_idx(files[0]).astype(np.float32) / 255.0
    files.append(_find(path, "t10k-images-idx3-ubyte"))
    test = _read_idx(files[1]).astype(np.float32) / 255.0
    return Dataset(_folder_name(path), train.reshape(len(train), -1), test.reshape(len(test), -1),
                   (1, *train.shape[1:]), meta=_provenance("mnist-idx", path, files))


def cifar100(path: Path) -> Dataset:
    """CIFAR-100's python release: the pickled `train` and `test` files (folder cifar-100-python)."""
    parts = []
    for name in ("train", "test"):
        file = path / name
        if not file.exists():
            raise DataError(f"data path {str(path)!r} has no {name!r} file (CIFAR-100 python release)")
        try:
            with open(file, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            parts.append(np.asarray(batch[b"data"], dtype=np.float32) / 255.0)
        except (OSError, pickle.UnpicklingError, KeyError, EOFError, TypeError) as exc:
            raise DataError(f"data file {str(file)!r} is not a CIFAR-100 pickle: {exc!r}") from None
    return Dataset("cifar100", parts[0], parts[1], (3, 32, 32),
                   meta=_provenance("cifar100-python", path, [path / "train", path / "test"]))


def celeba(path: Path, size: int = 64, limit: int | None = None) -> Dataset:
    """CelebA: img_align_celeba/ and list_eval_partition.txt (0 train, 1 valid, 2 test); centre-cropped to 148 and
    resized to size x size. `limit` caps the number of images read per split."""
    from PIL import Image
    folder, partition = path / "img_align_celeba", path / "list_eval_partition.txt"
    if not folder.is_dir() or not partition.exists():
        raise DataError(f"data path {str(path)!r} needs img_align_celeba/ and list_eval_partition.txt (CelebA)")
    splits: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for line in partition.read_text().split("\n"):
        if not line.strip():
            continue
        try:
            name, part = line.split()
            which = "test" if int(part) == 2 else "train"
        except ValueError:
            raise DataError(f"malformed line in {str(partition)!r}: {line!r}") from None
        if limit is not None and len(splits[which]) >= limit:
            continue
        image = Image.open(_must_exist(folder / name)).convert("RGB")
        w, h = image.size
        image = image.crop(((w - 148) // 2, (h - 148) // 2, (w + 148) // 2, (h + 148) // 2)).resize((size, size))
        splits[which].append(np.asarray(image, dtype=np.float32).transpose(2, 0, 1).reshape(-1) / 255.0)
    if not splits["train"] or not splits["test"]:
        raise DataError(f"data path {str(path)!r}: the partition file names no training or no test image")
    return Dataset("celeba", np.stack(splits["train"]), np.stack(splits["test"]), (3, size, size),
                   meta=_provenance("celeba", path, [partition], size=size, limit=limit))


def array_file(path: Path, held_out: float, seed: int) -> Dataset:
    """Any .npy, or a .npz with arrays `train` and `test` (or one array, split here); uint8 is scaled by 1/255."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.ndarray):
            loaded = {k: loaded[k] for k in loaded.files}  # read every array now: a broken member fails here
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"data path {str(path)!r} is not a readable .npy/.npz file: {exc}") from None
    scale = lambda a: a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    arrays = {"data": loaded} if isinstance(loaded, np.ndarray) else loaded
    if not arrays:
        raise DataError(f"{str(path)!r} holds no array: a .npz needs arrays 'train' and 'test', or exactly one")
    for key, value in arrays.items():
        if value.ndim < 2 or not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all():
            raise DataError(f"array {key!r} in {str(path)!r} must be numeric, finite, of shape (N, ...)")
        if len(value) == 0 or value[0].size == 0:
            raise DataError(f"array {key!r} in {str(path)!r} is empty: it needs at least one row of one value")
    if "train" in arrays and "test" in arrays:
        if arrays["train"][0].size != arrays["test"][0].size:
            raise DataError(f"{str(path)!r}: 'train' rows have {arrays['train'][0].size} values but 'test' rows "
                            f"{arrays['test'][0].size}: they must match")
        return Dataset(path.stem, scale(arrays["train"]).reshape(len(arrays["train"]), -1),
                       scale(arrays["test"]).reshape(len(arrays["test"]), -1),
                       meta=_provenance(path.suffix[1:], path, [path]))
    if len(arrays) != 1:
        raise DataError(f"{str(path)!r}: a .npz needs arrays 'train' and 'test', or exactly one array")
    try:
        return split(path.stem, scale(next(iter(arrays.values()))), held_out, seed,
                     meta={**_provenance(path.suffix[1:], path, [path]), "held_out": held_out, "split_seed": seed})
    except DataError as exc:
        raise DataError(f"{str(path)!r}: {exc}") from None


def load_path(path: str | Path, held_out: float = 0.2, seed: int = 0) -> Dataset:
    """A data set from a local path, its format recognised from what is there."""
    check_split(held_out, seed)
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise DataError(f"data path {path!r} is invalid: give 'digits', 'synthetic' or a local path")
    path = _must_exist(Path(path))
    if path.is_file():
        if path.suffix in (".npy", ".npz"):
            return array_file(path, held_out, seed)
        raise DataError(f"data path {str(path)!r}: a file must be .npy or .npz (or give a MNIST, CIFAR-100 or "
                        "CelebA folder)")
    if (path / "img_align_celeba").exists():
        return celeba(path)
    if (path / "train").exists() and (path / "meta").exists() or path.name == "cifar-100-python":
        return cifar100(path)
    if any(path.glob("train-images-idx3-ubyte*")):
        return mnist(path)
    raise DataError(f"data path {str(path)!r} is not a recognised data set folder (MNIST idx files, CIFAR-100 "
                    "python release, CelebA) and not a .npy/.npz file")
