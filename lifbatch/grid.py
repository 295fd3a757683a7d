"""The sweep grid cut into blocks of points (one task and one Zarr chunk each); the store's
coordinates and variables are in layout.py."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Blocking", "block_chunks", "balanced_chunks"]


def block_chunks(shape: tuple[int, ...], points_per_task: int) -> tuple[int, ...]:
    """Chunk shape along the sweep axes holding at most ``points_per_task`` points.

    The last (fastest) axis is filled first, as in C order, so that a block is a
    contiguous run of the grid whenever possible.
    """
    points_per_task = max(1, int(points_per_task))
    chunks = [1] * len(shape)
    room = points_per_task
    for i in range(len(shape) - 1, -1, -1):
        c = max(1, min(shape[i], room))
        chunks[i] = c
        if c < shape[i]:
            break
        room //= c
    return tuple(chunks)


def balanced_chunks(
    shape: tuple[int, ...], max_points: int, workers: int, max_blocks: int | None = None
) -> tuple[int, ...]:
    """Chunks of at most ``max_points`` points, evened out over ``workers`` workers.

    ``block_chunks(shape, max_points)`` can leave a last wave with fewer blocks
    than workers: 10^4 points in blocks of 325 on 2 workers make 31 blocks, and
    one worker sits out the last one. Among block sizes from ``max_points`` down
    to half of it that give no worker more blocks than that plan does (so no more
    per-task cost), this takes the one whose busiest worker has the fewest points,
    ceil(blocks / workers) x points per block (10^4 points: 32 blocks of 313), the
    largest of equals, with at most ``max_blocks`` blocks.
    """
    max_points = max(1, int(max_points))
    workers = max(1, int(workers))
    plain = block_chunks(shape, max_points)
    if not shape:
        return plain
    limit = math.ceil(Blocking(shape, plain).n_blocks / workers) * workers
    if max_blocks is not None:
        limit = min(limit, max_blocks)
    lo = max(1, (max_points + 1) // 2)
    sizes = set(range(max_points, lo - 1, -max(1, (max_points - lo) // 2000)))
    sizes.add(min(max_points, max(lo, math.ceil(math.prod(shape) / limit))))  # the even split of a run
    best = None
    for size in sorted(sizes, reverse=True):
        chunks = block_chunks(shape, size)
        blocks = Blocking(shape, chunks).n_blocks
        if blocks <= limit:
            cost = math.ceil(blocks / workers) * math.prod(chunks)
            if best is None or cost < best[0]:
                best = (cost, chunks)
    return best[1] if best is not None else plain


@dataclass(frozen=True)
class Blocking:
    """How the grid is cut into blocks."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.chunks))

    @property
    def n_blocks(self) -> int:
        return int(np.prod(self.grid, dtype=np.int64)) if self.shape else 1

    def block_ids(self):
        """Block indices in C order (an iterator: O(1) memory, O(blocks) time)."""
        return itertools.product(*(range(g) for g in self.grid))

    def slices(self, block_id: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(b * c, min(n, (b + 1) * c)) for b, c, n in zip(block_id, self.chunks, self.shape))

    def flat_index(self, block_id: tuple[int, ...]) -> int:
        return int(np.ravel_multi_index(block_id, self.grid)) if self.shape else 0

    def block_id(self, flat: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(flat, self.grid)) if self.shape else ()
