"""Sweeps: grids of runs from a sweep file, run in parallel and resumably, and the paper's experiments as ready-made
sweeps. Reads the science and presentation of `compare`; never the command line."""
