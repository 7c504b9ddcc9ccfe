"""Participant: participant and devices YAML, array maps, electrode parameter columns."""
