"""Timing: every clock a stream carries mapped onto one session time axis."""
