"""Reading: one pass per stream, decoded with numpy and spooled to disk."""
