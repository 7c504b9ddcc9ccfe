"""The ``neuroconv-brand`` command."""


def main() -> int:
    """Entry point (filled in below)."""
    return 0
