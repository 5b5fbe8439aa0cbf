"""NameKey: a random key, kept only in Pulumi's state as a secret, that container names are hashed with.

Only a deployment whose app.env holds secrets registers one (bluegreen/config/secrets.py
says why a plain hash is not enough). It is created once and never replaced:
its inputs never change, so names change exactly when the secret values do.
"""

from __future__ import annotations

import pulumi
import pulumi_command as command

# 32 random bytes as hex; od and tr exist wherever the Docker CLI does.
CREATE = "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'"


class NameKey(pulumi.ComponentResource):
    key: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:NameKey", name, None, opts)
        generated = command.local.Command(
            f"{name}-random",
            create=CREATE,
            logging=command.local.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"]),
        )
        self.key = pulumi.Output.secret(generated.stdout)
        self.register_outputs({})
