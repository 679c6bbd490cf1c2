"""Tenants: each has its own LanceDB database under the store root, opened once and shared by requests."""

from __future__ import annotations

import logging
import re
import threading

from memalpha_memory import MemoryStore

from .exceptions import ServerConfigError
from .group_commit import GroupCommitter

__all__ = ["TENANT_PATTERN", "TenantStores", "open_tenant_store", "tenant_store_uri", "validate_tenant"]

logger = logging.getLogger(__name__)

TENANT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def validate_tenant(tenant: object) -> str:
    """Return ``tenant`` if it is a valid tenant name (``[A-Za-z0-9_-]{1,64}``), else raise `ServerConfigError`."""
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise ServerConfigError(f"invalid tenant {tenant!r}: use 1 to 64 characters from letters, digits, '_' and '-'")
    return tenant


def tenant_store_uri(root: str, tenant: str) -> str:
    """The LanceDB URI of ``tenant``'s database: ``{root}/tenants/{tenant}``."""
    return f"{root.rstrip('/')}/tenants/{validate_tenant(tenant)}"


def open_tenant_store(root: str, tenant: str) -> MemoryStore:
    """Open (or create) ``tenant``'s `MemoryStore` under the store root ``root``."""
    return MemoryStore.open(tenant_store_uri(root, tenant))


class TenantStores:
    """One `MemoryStore` per tenant, opened on first use and then shared (it serialises its own writers),
    with the `GroupCommitter` that every write of that tenant goes through."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._stores: dict[str, MemoryStore] = {}
        self._writers: dict[str, GroupCommitter] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str) -> MemoryStore:
        """The tenant's store (raises `memalpha_memory.StorageError` if it cannot be opened)."""
        store = self._stores.get(tenant)
        if store is not None:
            return store
        with self._lock:
            store = self._stores.get(tenant)
            if store is None:
                store = open_tenant_store(self.root, tenant)
                self._writers[tenant] = GroupCommitter(store)
                self._stores[tenant] = store
                logger.info("opened the store of tenant %r at %s", tenant, store.uri)
        return store

    def writer(self, tenant: str) -> GroupCommitter:
        """The tenant's group committer: apply write calls through it (opens the store if needed)."""
        self.get(tenant)
        return self._writers[tenant]

    def close(self) -> None:
        """Close every open store (they stay readable; a later `get` reuses them)."""
        with self._lock:
            stores = list(self._stores.values())
        for store in stores:
            store.close()
