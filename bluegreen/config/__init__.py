"""Stack configuration: settings models (one section per module, rules beside it), stack files, secrets, messages."""
