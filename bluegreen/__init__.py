"""Blue/green deployments on a Docker host: the Pulumi-free domain and runtime.

Nothing in this package imports pulumi, so tests, the CLI and the switch that
Pulumi runs all share one implementation.
"""
