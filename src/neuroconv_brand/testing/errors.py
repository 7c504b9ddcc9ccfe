"""Errors of the synthetic session generator (all derive from :class:`neuroconv_brand.errors.BrandError`)."""

from __future__ import annotations

from ..errors import BrandError


class SessionConfigError(BrandError, ValueError):
    """A :class:`~neuroconv_brand.testing.SessionConfig` option is out of range or contradicts another."""


class SessionTargetError(BrandError):
    """The Redis database already holds a key the generator would write."""


class SessionWriteError(BrandError):
    """Redis refused an entry the generator sent (the message names the stream and the entry id)."""
