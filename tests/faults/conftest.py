"""The fault suite runs on the integration tier's deployment: the same fixtures, its own lab per module."""

from tests.integration.conftest import app_image, blue_live, stack

__all__ = ["app_image", "blue_live", "stack"]
