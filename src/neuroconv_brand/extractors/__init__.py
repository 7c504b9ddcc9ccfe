"""Extractors: SpikeInterface recording and sorting over the reading and timing layers."""
