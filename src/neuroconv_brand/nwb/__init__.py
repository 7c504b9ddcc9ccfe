"""NWB output: backend configuration edits, compression presets, atomic output files."""
