"""Graph: the supergraph and node YAMLs turned into one StreamSpec per stream (pure)."""
