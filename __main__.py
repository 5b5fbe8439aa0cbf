"""The Pulumi program: stack config -> validated settings -> resources -> outputs."""

import pulumi

from components.config import stack_settings

settings = stack_settings()

pulumi.export("activeColor", settings.active_color)
pulumi.export("trafficWeight", settings.traffic_weight)
pulumi.export("versions", {"blue": settings.blue.version, "green": settings.green.version})
