"""Reading this process's memory mappings (/proc/self/maps)."""

from __future__ import annotations


def mappings(path_filter=None) -> list[tuple[int, int, str]]:
    """(start, end, path) of every file mapping, optionally only those whose path passes the filter."""
    result = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            path = parts[5].strip()
            if path_filter is not None and not path_filter(path):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            result.append((start, end, path))
    return result


def mapping_of(address: int, size: int = 1):
    """The (start, end, path) mapping that holds [address, address + size), or None."""
    for start, end, path in mappings():
        if start <= address and address + size <= end:
            return start, end, path
    return None
