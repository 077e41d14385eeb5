"""plasmapool: a pure-Python Plasma client with the API of pyarrow.plasma.

Migrating from pyarrow.plasma is one line: `import plasmapool as plasma`.
"""

from .arrow import ARROW_STREAM_METADATA, get_table, put_table
from .client import PlasmaClient, connect
from .errors import (
    NotArrowObject,
    NotPickledObject,
    ObjectNotAvailable,
    PlasmaError,
    PlasmaObjectAlreadySealed,
    PlasmaObjectExists,
    PlasmaObjectNotFound,
    PlasmaStoreDisconnected,
    PlasmaStoreFull,
)
from .object_id import ObjectID
from ._pickled import PICKLE_METADATA

__version__ = "0.1.0"

__all__ = [
    "ARROW_STREAM_METADATA", "PICKLE_METADATA", "NotArrowObject", "NotPickledObject",
    "ObjectID", "ObjectNotAvailable", "PlasmaClient", "PlasmaError", "PlasmaObjectAlreadySealed",
    "PlasmaObjectExists", "PlasmaObjectNotFound", "PlasmaStoreDisconnected", "PlasmaStoreFull",
    "connect", "get_table", "put_table",
]
