"""The environment variables the Pulumi program hands the `bluegreen` CLI: the one contract between them.

components/ put these on its pulumi-command resources; the CLI (and the
policy pack, for IMAGE_REF_ENV) read them. A name is written here only.
"""

from __future__ import annotations

from typing import Final

# The environment variable that carries an S3-loaded image's reference on its
# command resource, where the policy pack pin-checks it.
IMAGE_REF_ENV: Final = "BLUEGREEN_IMAGE_REF"
# What the program's drift check saw, handed to the Switch command; the switch
# records it so the next check can hand back the same value (components/drift.py).
OBSERVED_ENV: Final = "BLUEGREEN_OBSERVED"
# Its value while the live routing is the plan the program last applied; "drift:PLAN@APPLIED_AT" when not.
IN_SYNC: Final = "in-sync"
DRIFT_PREFIX: Final = "drift:"
# Set to 1 by an operator, for one `pulumi up`, to deploy although the live status cannot be read (the engine is
# reachable for Pulumi but `bluegreen status` fails): the checks that need it are then off, and the up says so.
BLIND_UP_ENV: Final = "BLUEGREEN_UP_WITHOUT_LIVE_STATUS"
SMOKE_ENV: Final = "BLUEGREEN_SMOKE"  # hooks.smoke as JSON, in the Switch command's environment
WEBHOOK_ENV: Final = "BLUEGREEN_WEBHOOK_URL"  # the Switch passes notifications.webhookUrl here, as a secret
HOOK_DEFINITION_ENV: Final = "BLUEGREEN_HOOK"  # the hook's definition (JSON) in the runner's environment
HOOK_IMAGE_ENV: Final = "BLUEGREEN_HOOK_IMAGE"  # the image id it runs in: the colour's image of this update
HOOK_RUN_ENV: Final = "BLUEGREEN_HOOK_RUN"  # the run key a hook resource's delete removes
CONTAINER_ENV: Final = "BLUEGREEN_CONTAINER"  # the container id, in the pids-limit command's environment
# Values only there so that a change of them re-runs a command (its `update`), never read by the CLI.
ROUTER_ID_ENV: Final = "BLUEGREEN_ROUTER_ID"
ROUTER_IMAGE_ENV: Final = "BLUEGREEN_ROUTER_IMAGE"
ROUTER_FILES_ENV: Final = "BLUEGREEN_ROUTER_FILES"
ROUTER_SPEC_ENV: Final = "BLUEGREEN_ROUTER_SPEC"  # what replaces the router: a new value runs the hand-over again
