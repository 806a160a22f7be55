"""Storage: one module per kind of record, over ``database.Database``."""

from bot.storage.database import Database

__all__ = ["Database"]
