"""Pulumi ComponentResources and the Pulumi-side adapters; the domain lives in bluegreen/."""
