"""Mechanisms: the rules of each ``type_nwb``, shared by the interfaces and ``validate`` (pure)."""
