"""Measurement side of vaebound: trains VAEs with PyTorch and records what the theorems bound (issue 3)."""
