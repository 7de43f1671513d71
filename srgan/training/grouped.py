"""Many small tensors handled as a few flat ones: a constant number of kernels, whatever their count.

A guarded step puts every BatchNorm buffer back after a skipped step, and the EMA copies the
integer ones: ~100 tensors for SRResNet-16, float32 running statistics mixed with int64
`num_batches_tracked`. PyTorch's `_foreach_*` ops run one kernel per tensor when a list mixes
dtypes, and a `where` per tensor is a kernel per tensor too. Grouped by dtype, each group is one
`cat`, one `where` and one `_foreach_copy_` (a fused multi-tensor kernel on CUDA): what a CUDA
graph replays, and what an eager step launches, stays the same for any network depth.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


class DtypeGroups:
    """Contiguous tensors grouped by dtype; each group is addressed as one flat vector.

    The groups hold flat views of the tensors themselves (no copies): writing a group writes
    the tensors. Two `DtypeGroups` built from tensors of the same dtypes in the same order
    have matching groups (the pairs of the EMA's average and its model).
    """

    def __init__(self, tensors: Iterable[Tensor]) -> None:
        groups: dict[torch.dtype, list[Tensor]] = {}
        for tensor in tensors:
            # view(-1), not reshape: a copy would not write back (buffers are 1-D or 0-d, contiguous).
            groups.setdefault(tensor.dtype, []).append(tensor.detach().view(-1))
        self.views: list[list[Tensor]] = list(groups.values())  # per dtype: (numel,) views, in order
        self.sizes: list[list[int]] = [[v.numel() for v in views] for views in self.views]
        self.tensors: list[Tensor] = [v for views in self.views for v in views]  # every view, group after group

    def cat(self) -> list[Tensor]:
        """The current values as one new flat tensor per dtype."""
        return [torch.cat(views) for views in self.views]

    def cat_into(self, flats: list[Tensor]) -> None:
        """Write the current values into `flats` (as `cat` made them): one kernel per dtype."""
        for views, flat in zip(self.views, flats, strict=True):
            torch.cat(views, out=flat)

    def keep_where(self, keep: Tensor, others: list[Tensor]) -> None:
        """Each tensor keeps its value where `keep` (0-d bool, on the device) holds, else takes its
        part of `others` (flat tensors as `cat` made them): a cat, a where and a copy per dtype."""
        for views, sizes, other in zip(self.views, self.sizes, others, strict=True):
            torch._foreach_copy_(views, torch.where(keep, torch.cat(views), other).split(sizes))
