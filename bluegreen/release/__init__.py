"""Releasing: the switch, the health gate, smoke checks, hooks, rollouts and their analysis, metrics, status."""
