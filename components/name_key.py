"""NameKey: a random key, kept only in Pulumi's state as a secret, that container names are hashed with.

Only a deployment whose app.env holds secrets registers one (bluegreen/config/secrets.py
says why a plain hash is not enough). It is created once and never replaced.
Its inputs may still change (a new pulumi-command adds a default input, and
every resource of its kind is updated; pulumi-command#912): without an update
command pulumi-command would run `create` again and every container of both
colours would get a new name at once. Its update prints the key it had
(pulumi-command gives the last run's stdout to an update as
PULUMI_COMMAND_STDOUT), so names change exactly when the secret values do.

Why not `pulumi_random.RandomBytes`: an alias cannot carry a value from one
resource type to another, and an import needs the key at program time, so
every existing stack would lose its key and rename both colours at once.
"""

from __future__ import annotations

import pulumi
import pulumi_command as command

# 32 random bytes as hex; od and tr exist wherever the Docker CLI does.
CREATE = "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'"
# The key it had; a new one only when it had none (its create failed halfway).
UPDATE = f'if [ -n "${{PULUMI_COMMAND_STDOUT:-}}" ]; then printf %s "$PULUMI_COMMAND_STDOUT"; else {CREATE}; fi'


class NameKey(pulumi.ComponentResource):
    key: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bluegreen:index:NameKey", name, None, opts)
        generated = command.local.Command(
            f"{name}-random",
            create=CREATE,
            update=UPDATE,
            logging=command.local.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"]),
        )
        self.key = pulumi.Output.secret(generated.stdout)
        self.register_outputs({})
