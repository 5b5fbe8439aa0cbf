"""Images without a registry: the S3 image store, build-context hashing, and the pinning rule."""
