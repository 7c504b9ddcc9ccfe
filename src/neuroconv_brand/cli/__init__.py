"""The ``neuroconv-brand`` command line: :mod:`.main` dispatches to one module per subcommand."""
