"""Measurement: train the VAE of a spec in PyTorch and record what the theorems bound (torch, never sympy)."""
from .config import TrainConfig, paper_train_config
from .data import DataError, Dataset, digits, load_path, synthetic_linear_gaussian
from .runs import Run, RunError, load_run
from .train import TRACE_COLUMNS, train

__all__ = ["TrainConfig", "paper_train_config", "DataError", "Dataset", "digits", "load_path", "synthetic_linear_gaussian", "Run",
           "RunError", "load_run", "TRACE_COLUMNS", "train"]
