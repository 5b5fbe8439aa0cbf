"""The Docker engine: its transport, hosts and contexts, targets (containers, Swarm tasks) and object names."""
