"""Docker contexts written as `docker context create` writes them, for tests that read one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def save_context(config_dir: Path, name: str, host: str) -> Path:
    """Store context `name` for engine `host` under `config_dir` (a $DOCKER_CONFIG); returns its meta.json.

    Written by hand, not with the docker SDK: the SDK stores contexts beside the
    first config.json it finds, which need not be in `config_dir`.
    """
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )
    return meta
