"""Exceptions, named as in pyarrow.plasma so that `except plasma.PlasmaStoreFull`
keeps working after `import plasmapool as plasma`."""

from __future__ import annotations


class PlasmaError(Exception):
    """Base class of the errors of this client."""


class PlasmaObjectExists(PlasmaError):
    """An object with this id already exists in the store (created or sealed)."""


class PlasmaObjectNotFound(PlasmaError, KeyError):
    """The object is not in the store, or not held by this client where it must be."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PlasmaStoreFull(PlasmaError):
    """The store could not make room for the object, even after evicting."""


class PlasmaObjectAlreadySealed(PlasmaError):
    """seal() of an object this client has already sealed."""


class ObjectNotAvailable(PlasmaError):
    """An object did not become available within the timeout.

    As in pyarrow.plasma, `get()` returns the class itself as a placeholder for each
    missing object (`result is plasma.ObjectNotAvailable`); `get_table()` raises it.
    """


class PlasmaStoreDisconnected(PlasmaError, ConnectionError):
    """The store closed the connection (it exited, or it dropped this client)."""


class NotArrowObject(PlasmaError, ValueError):
    """get_table(): the object does not hold an Arrow IPC stream."""


class NotPickledObject(PlasmaError, ValueError):
    """get(): the object was not written by put() of this client."""
