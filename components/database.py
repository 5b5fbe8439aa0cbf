"""Database: the PostgreSQL both colours share, or the URL of one that runs elsewhere.

It is not part of either colour: releases, flips and router replacements
never touch it. Its container keeps one name and is replaced only with its
own settings (delete first: two servers on one data directory would corrupt
it), and its data lives on a named volume that `pulumi destroy` leaves
behind (retain_on_delete): dropping a database takes `docker volume rm`.
"""

from __future__ import annotations

from urllib.parse import quote

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from bluegreen.engine.container_spec import LOG_OPTS
from bluegreen.engine.hardening import DATABASE
from bluegreen.engine.names import ROLE_DATABASE, SPEC_LABEL, database_name, database_volume_name
from bluegreen.engine.readback import DAEMON_MERGED, duration, limits
from bluegreen.engine.topology import Topology
from components.cli import LOCAL_ENGINE, Engine
from components.hardening import container_args, pids_limit

PORT = 5432
DATA_DIR = "/var/lib/postgresql/data"
STOP_SECONDS = 60  # SIGINT is postgres' fast shutdown; a checkpoint may still take a while
# The image's POSTGRES_* variables set the app role's password only on an empty data directory: a rotated
# `database.password`, or a new generated one after `pulumi destroy` + `pulumi up` on the kept volume, would
# never reach the role, and the colours could not log in. So before the server starts, on an existing data
# directory, the role is given the current password, through single-user mode (no network, no other login).
# The password goes through stdin, never an argument; quotes are doubled for SQL.
START = r"""set -eu
if [ -s "$PGDATA/PG_VERSION" ]; then
  pw=$(printf %s "$POSTGRES_PASSWORD" | sed "s/'/''/g")
  printf "ALTER ROLE \"%s\" WITH LOGIN PASSWORD '%s';\n" "$POSTGRES_USER" "$pw" \
    | postgres --single -D "$PGDATA" postgres >/tmp/role.log 2>&1 || true
  if grep -qE 'ERROR|FATAL' /tmp/role.log; then
    echo "bluegreen: could not give role $POSTGRES_USER the current database.password in $PGDATA:" >&2
    grep -E 'ERROR|FATAL' /tmp/role.log >&2
    exit 1
  fi
  echo "bluegreen: role $POSTGRES_USER has the current database.password"
fi
exec docker-entrypoint.sh postgres
"""


class Database(pulumi.ComponentResource):
    url: pulumi.Output[str]  # secret: APP_DATABASE_URL of both colours
    container: docker.Container | None

    def __init__(
        self,
        name: str,
        topology: Topology,
        network: docker.Network,
        engine: Engine = LOCAL_ENGINE,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:index:Database", name, None, opts)
        db = topology.settings.database
        child = pulumi.ResourceOptions(parent=self)
        self.container = None
        if db.mode == "external":
            self.url = pulumi.Output.secret(db.url or "")
            self.register_outputs({"mode": db.mode})
            return
        password: pulumi.Output[str] = (
            pulumi.Output.secret(db.password)
            if db.password
            else random.RandomPassword(f"{name}-password", length=32, special=False, opts=child).result
        )
        host = database_name(topology.deployment)
        self.container = self._container(name, topology, network, host, password)
        self.limit = pids_limit(name, self.container, DATABASE.pids_limit, engine)
        # Quoted: a given password may hold characters a URL gives a meaning (@ : / %).
        self.url = pulumi.Output.secret(
            password.apply(lambda pw: f"postgresql://{db.user}:{quote(pw, safe='')}@{host}:{PORT}/{db.name}")
        )
        self.register_outputs({"mode": db.mode, "host": host})

    def _container(
        self, name: str, topology: Topology, network: docker.Network, host: str, password: pulumi.Output[str]
    ) -> docker.Container:
        """PostgreSQL on a volume that outlives the container (retain_on_delete), reachable by its name."""
        db = topology.settings.database
        image = docker.RemoteImage(
            f"{name}-image", name=db.image, keep_locally=True, opts=pulumi.ResourceOptions(parent=self)
        )
        labels = topology.labels(ROLE_DATABASE)
        volume = docker.Volume(
            f"{name}-data",
            name=database_volume_name(topology.deployment),
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in labels.items()],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        plain = [f"POSTGRES_USER={db.user}", f"POSTGRES_DB={db.name}", f"PGDATA={DATA_DIR}"]

        def env(pw: str) -> list[str]:
            return [f"POSTGRES_PASSWORD={pw}", *plain]

        envs: pulumi.Input[list[str]] = pulumi.Output.secret(password.apply(env))
        return docker.Container(
            name,
            name=host,
            image=image.image_id,
            envs=envs,
            command=["sh", "-c", START],
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**labels, SPEC_LABEL: topology.database_spec()}.items()
            ],
            user=db.run_as,
            **container_args(DATABASE),
            **limits(db.resources.memory_mb, db.resources.cpus),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "pg_isready", "-h", "127.0.0.1", "-p", str(PORT), "-U", db.user, "-d", db.name],
                interval="1s",
                timeout="3s",
                start_period=duration(60),
                retries=5,
            ),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)],
            restart="unless-stopped",
            log_driver="json-file",
            log_opts=dict(LOG_OPTS),
            stop_signal="SIGINT",
            stop_timeout=STOP_SECONDS,
            destroy_grace_seconds=STOP_SECONDS,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            must_run=True,
            wait=True,
            wait_timeout=180,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, ignore_changes=DAEMON_MERGED),
        )
