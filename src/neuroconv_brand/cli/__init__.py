"""The ``neuroconv-brand`` command line: argument parsing, one module per subcommand."""
