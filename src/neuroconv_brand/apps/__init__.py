"""Apps: what the commands do (inspect, validate, YAML runner, exportnwb, demo)."""
