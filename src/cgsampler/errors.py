"""Exceptions raised by cgsampler."""


class CgsamplerError(Exception):
    """Base class of every cgsampler error."""


class MalformedFile(CgsamplerError, ValueError):
    """A kernel file did not have the expected format; the message names the file and line."""


class NoCgroupFilesystem(CgsamplerError):
    """No cgroup v1 or v2 filesystem was found where one was expected."""
