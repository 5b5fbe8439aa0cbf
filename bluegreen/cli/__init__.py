"""The `bluegreen` command: operator commands, one module per family, and the program-only plumbing apart."""
