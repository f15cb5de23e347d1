"""Presentation of assessments: plots, tables, the JSON summary, the HTML report, and the folder of outputs that
`demo` and `reproduce` write. Reads the science of `compare`; never the sweeps or the command line."""

# The formats a comparison renders in (here, not in `tables`, so the command line's parser reads it without pandas).
FORMATS = ("text", "json", "markdown", "latex", "csv")
