"""The Pulumi program: stack config -> validated settings -> one BlueGreenDeployment -> outputs."""

import pulumi

from components.config import stack_settings
from components.deployment import BlueGreenDeployment, BlueGreenDeploymentArgs

settings, secrets = stack_settings()
deployment = BlueGreenDeployment(
    "app", BlueGreenDeploymentArgs(settings, pulumi.get_project(), pulumi.get_stack(), secrets)
)

pulumi.export("url", deployment.url)
pulumi.export("previewUrl", deployment.preview_url)
pulumi.export("activeColor", settings.active_color)
pulumi.export("trafficWeight", settings.traffic_weight)
pulumi.export("versions", {c: settings.color(c).version for c in ("blue", "green")})
pulumi.export("containers", deployment.containers)
pulumi.export("planHash", deployment.plan.apply(lambda plan: plan.plan_hash()))
if deployment.edge is not None:  # router.shared: what the stacks that join this router read
    pulumi.export("edge", deployment.edge)
