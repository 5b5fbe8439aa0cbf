"""The nginx router: its fixed files, the per-request njs, the shell scripts, the volume layout, the adapter."""
