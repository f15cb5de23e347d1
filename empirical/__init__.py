"""Measurement: train the VAE of a spec in PyTorch and record what the theorems bound (torch, never sympy)."""
from .config import TrainConfig
from .data import DataError, Dataset, digits, load_path, synthetic_linear_gaussian
from .runs import Run, RunError, load_run
from .train import TRACE_COLUMNS, train

__all__ = ["TrainConfig", "DataError", "Dataset", "digits", "load_path", "synthetic_linear_gaussian", "Run",
           "RunError", "load_run", "TRACE_COLUMNS", "train"]
