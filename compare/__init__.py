"""The meeting point of `bounds` and `empirical`: command line, tables, plots."""
