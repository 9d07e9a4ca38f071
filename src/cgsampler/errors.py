"""Exceptions raised by cgsampler.

Every exception the library raises on purpose derives from `CgsamplerError`,
so callers can catch them all with one clause; each one also derives from the
built-in exception a Python user would expect (`ValueError`, `KeyError`, ...).
"""

from __future__ import annotations


class CgsamplerError(Exception):
    """Base class of every error cgsampler raises on purpose."""


class InvalidJSON(CgsamplerError, ValueError):
    """JSON text that is malformed, or that Go's encoding/json would not decode
    into the requested v1 type (wrong JSON type, number out of range, bad time)."""


class MalformedFile(CgsamplerError, ValueError):
    """A kernel file did not have the expected format; the message names the file and line."""


class NoCgroupFilesystem(CgsamplerError):
    """No cgroup v1 or v2 filesystem was found where one was expected."""


class UnknownContainer(CgsamplerError, KeyError):
    """A container name that is not a tracked cgroup."""

    def __str__(self):          # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousName(UnknownContainer):
    """A runtime alias or prefix that matches several containers."""


class InvalidOption(CgsamplerError, ValueError):
    """An argument or option out of its range."""


class SamplerClosed(CgsamplerError, RuntimeError):
    """A call on a Sampler after close()."""
