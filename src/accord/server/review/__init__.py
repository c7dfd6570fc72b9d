"""The review web app (``accord ui``): sign in, work the queue, compare responses, watch agreement."""

from accord.server.review.app import ReviewApp, create_app

__all__ = ["ReviewApp", "create_app"]
