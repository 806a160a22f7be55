"""What the running process counts, for ``/metrics``: plain numbers with labels, no library.

The core and its delivery add to them; ``bot.operations.web`` turns them into Prometheus metrics.
They live as long as the process (Prometheus reads a restart as a counter reset, which it expects).
"""

from __future__ import annotations

from collections import Counter

Key = tuple[str, tuple[tuple[str, str], ...]]

# Reasons an adapter gives for a refusal that is the platform's rate limit (Telegram, Matrix).
RATE_LIMIT_REASONS = ("429", "M_LIMIT_EXCEEDED")


class Counters:
    def __init__(self) -> None:
        self.values: Counter[Key] = Counter()

    def add(self, name: str, amount: int = 1, **labels: str) -> None:
        if amount:
            self.values[(name, tuple(sorted(labels.items())))] += amount

    def get(self, name: str, **labels: str) -> int:
        return self.values[(name, tuple(sorted(labels.items())))]

    def named(self, name: str) -> list[tuple[dict[str, str], int]]:
        return [(dict(labels), value) for (n, labels), value in sorted(self.values.items()) if n == name]
