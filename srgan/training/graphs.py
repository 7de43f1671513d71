"""Training steps replayed as CUDA graphs: `CapturedStep` captures a whole step once (forward, losses,
backward, fused Adam with the learning rate in a device tensor, the guard and the EMA update) and
replays it; `graph_plan` says once whether a runtime's steps are graphed (`runtime.cuda_graphs`:
never | auto | required) and why not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime

log = logging.getLogger(__name__)

StepFn = Callable[..., dict[str, Tensor]]  # (lr_img, hr_img) -> loss scalars, or the same with a cut before it


def _exception_text(error: BaseException) -> str:
    """The exception and each one it was raised from or while handling, outermost first, one per line."""
    lines, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        lines.append(f"{type(error).__name__}: {str(error).strip()}")
        error = error.__cause__ or error.__context__
    return "\n  from ".join(lines)


def _root_cause(error: BaseException) -> str:
    """The first line of the innermost exception of the chain (what went wrong first)."""
    seen = set()
    while (error.__cause__ or error.__context__) is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def cuda_capture(step: StepFn, inputs: tuple[Tensor, Tensor]) -> tuple[torch.cuda.CUDAGraph, dict[str, Tensor]]:
    """Record `step(*inputs)` into a new CUDA graph (nothing runs while capturing); (graph, its outputs).

    On failure the thread's current stream is put back and the graph's memory pool handed back
    before the exception goes on. torch's `graph.__exit__` calls `capture_end` and only then leaves
    its capture-stream context, with no `finally`: when `capture_end` raises (an invalidated capture
    does) the thread would stay on the capture stream, and every later step would run there. On some
    torch versions a failed capture also leaves the caching allocator counting a capture under way.
    """
    previous = torch.cuda.current_stream()
    graph = torch.cuda.CUDAGraph()
    try:
        # thread_local: only this thread's CUDA calls can spoil the capture; the default ("global")
        # also lets another thread's call end it, e.g. the DataLoader's pin-memory thread.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            outputs = step(*inputs)
    except BaseException:
        try:
            torch.cuda.set_stream(previous)
        finally:
            if hasattr(graph, "reset"):
                graph.reset()
        raise
    return graph, outputs


def check_captured_lrs(optimizers: list[torch.optim.Optimizer], captured: list[Tensor]) -> None:
    """SrganError unless every param group's learning rate is still the tensor a captured step reads.

    A host-side identity check (no device sync): the graph reads the learning-rate tensors it was
    captured with, and LR schedulers of torch >= 2.4 write into them in place; one that assigns a
    number (older torch) or a reloaded optimizer would leave the graph on a frozen rate.
    """
    groups = [group for opt in optimizers for group in opt.param_groups]
    if len(groups) != len(captured) or any(g["lr"] is not t for g, t in zip(groups, captured)):
        raise SrganError("the learning rate of the captured training step was replaced (a param group's 'lr' is no "
                         "longer the device tensor the CUDA graph reads: torch < 2.4's LR schedulers assign a "
                         "number), so the graph would train at a frozen rate; use torch >= 2.4, or set "
                         "runtime.cuda_graphs: never")


class CapturedStep:
    """A training step replayed as one CUDA graph (whole-network capture, PyTorch's CUDA graphs recipe).

    The first `warmup` calls run eagerly on a side stream (cuDNN picks its algorithms, the
    fused optimisers create their state); the next call captures the step from static input
    buffers, and every call then copies its inputs into those buffers and replays the graph.
    Every call is a real training step. The outputs are static tensors that the next call
    overwrites: read them (or copy them) before the next step.

    step: the step on a batch, (lr_img, hr_img) -> loss scalars. cut: None, and each call takes
    (lr_img, hr_img); or a function of a batch's packed draws that cuts its patches on the device
    (`srgan.datasets.patches.DevicePatches.cut`), and each call takes the packed draws: the cut
    is captured with the step (its shapes are fixed), so a replay copies one small tensor in and
    launches nothing else. Should the capture with the cut inside fail, the step is captured
    without it (the cut then runs eagerly before each replay) and the cause logged at WARNING.

    mode: runtime.cuda_graphs, "auto" or "required". When the capture fails, "auto" logs the
    whole cause at WARNING and runs every step eagerly from then on (the same step function);
    "required" logs it and stops with a one-line SrganError. `capture` records a step into a
    graph (`cuda_capture`; tests pass one that fails). `note` says what happened, for timing.json.
    """

    def __init__(self, step: StepFn, optimizers: list[torch.optim.Optimizer], device: torch.device,
                 mode: str = "auto", capture: Callable = cuda_capture, warmup: int = 3,
                 cut: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None) -> None:
        self.step, self.optimizers, self.device, self.mode = step, optimizers, device, mode
        self.capture, self.warmup, self.cut = capture, warmup, cut
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager = False  # the capture failed: every step runs eagerly (the same step function)
        self.cut_inside = cut is not None  # the graph cuts the patches (False: the cut runs before each replay)
        self.inputs: tuple[Tensor, ...] | None = None
        self.outputs: dict[str, Tensor] = {}
        self.lrs: list[Tensor] = []  # the learning-rate tensors the graph reads
        self.note = f"not captured: the session ended within its {warmup} eager warm-up steps"
        self._cut_note = ""

    def fresh(self, cut: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None) -> CapturedStep:
        """A new, uncaptured step of the same function, with this cut or `cut` (this one's graph is released)."""
        self.release()
        return CapturedStep(self.step, self.optimizers, self.device, self.mode, self.capture, self.warmup,
                            cut or self.cut)

    def release(self) -> None:
        """Drop the graph and its static buffers."""
        if self.graph is not None and hasattr(self.graph, "reset"):
            self.graph.reset()
        self.graph, self.inputs, self.outputs, self.lrs = None, None, {}, []

    def _images(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return self.cut(*inputs) if self.cut is not None else inputs

    def _whole(self, *inputs: Tensor) -> dict[str, Tensor]:
        """The step with its cut: what runs eagerly, and what is captured when the cut is inside."""
        return self.step(*self._images(inputs))

    def __call__(self, *inputs: Tensor) -> dict[str, Tensor]:
        """One training step on (lr_img, hr_img), or on a batch's packed draws when there is a cut."""
        if self.eager:
            return self._whole(*inputs)
        if self.graph is None and self.calls < self.warmup:
            self.calls += 1
            return self._warm_up(inputs)
        if self.graph is None and not self._capture(inputs):
            return self._whole(*inputs)
        check_captured_lrs(self.optimizers, self.lrs)
        for static, value in zip(self.inputs, inputs if self.cut_inside else self._images(inputs), strict=True):
            static.copy_(value, non_blocking=True)
        self.graph.replay()
        return self.outputs

    def _warm_up(self, inputs: tuple[Tensor, ...]) -> dict[str, Tensor]:
        if self.device.type != "cuda":
            return self._whole(*inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self._whole(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _static(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        # Copies on the device that the graph reads and each replay refills (keeping the memory format);
        # packed draws come pinned from the host.
        return tuple(value.to(self.device, copy=True) for value in inputs)

    def _record(self, step: StepFn, inputs: tuple[Tensor, ...]) -> None:
        self.inputs = self._static(inputs)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.graph, self.outputs = self.capture(step, self.inputs)

    def _capture(self, inputs: tuple[Tensor, ...]) -> bool:
        """Record the step into a graph; False when the capture failed and mode "auto" goes on eagerly."""
        if self.cut_inside:
            try:
                self._record(self._whole, inputs)
            except Exception as e:  # noqa: BLE001  (the step alone may still capture)
                self._discard()
                self.cut_inside = False
                self._cut_note = f"patches cut before each replay; with the cut inside: {_root_cause(e)}"
                log.warning("CUDA graph capture of the training step with its patch cut inside failed; capturing the "
                            "step alone, patches cut eagerly before each replay. The cause:\n  %s", _exception_text(e))
        if not self.cut_inside:
            try:
                self._record(self.step, self._images(inputs))
            except Exception as e:  # noqa: BLE001  (whatever stopped the capture, its cause is reported)
                self._capture_failed(e)
                return False
        self.lrs = [group["lr"] for opt in self.optimizers for group in opt.param_groups]
        self.note = f"captured after {self.calls} eager warm-up steps"
        if self.cut is not None:
            self.note += " (patches cut inside the graph)" if self.cut_inside else f" ({self._cut_note})"
        log.info("training step captured as a CUDA graph after %d eager steps", self.calls)
        return True

    def _discard(self) -> None:
        """Forget a failed capture: its buffers, and the gradients it allocated from the graph's pool."""
        self.graph, self.inputs, self.outputs = None, None, {}
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

    def _capture_failed(self, error: Exception) -> None:
        self._discard()
        self.eager = True
        cause = _root_cause(error)
        self.note = f"capture failed, eager steps: {cause}"
        if self.mode == "required":
            log.error("CUDA graph capture of the training step failed:\n  %s", _exception_text(error))
            raise SrganError(f"CUDA graph capture of the training step failed ({cause}) and runtime.cuda_graphs is "
                             "required; set runtime.cuda_graphs: auto to train with eager steps (the log above "
                             "has the whole cause)") from error
        log.warning("CUDA graph capture of the training step failed; training goes on with eager steps (the same "
                    "step function). The cause:\n  %s", _exception_text(error))


def use_cuda_graphs(runtime: Runtime) -> tuple[bool, str]:
    """Whether this runtime's training steps are captured as CUDA graphs, and why not when they are not."""
    if runtime.cuda_graphs == "never":
        return False, "runtime.cuda_graphs is never"
    if runtime.device.type != "cuda":
        return False, f"CUDA graphs apply on CUDA only (device {runtime.device})"
    if runtime.distributed:
        return False, "CUDA graphs are not used with DistributedDataParallel (runtime.processes > 1)"
    if runtime.amp_dtype == torch.float16:
        return False, "CUDA graphs are not used with fp16 loss scaling (runtime.precision fp16; bf16 needs no scaler)"
    return True, "training steps run as CUDA graphs"


def graph_plan(runtime: Runtime) -> tuple[bool, str]:
    """`use_cuda_graphs`, said once: nothing for "never", INFO on the CPU (graphs never apply there),
    WARNING for an "auto" CUDA run that cannot use them, SrganError for a "required" one."""
    graphs, why = use_cuda_graphs(runtime)
    if graphs or runtime.cuda_graphs == "never":
        return graphs, why
    if runtime.device.type != "cuda":
        log.info("%s: training steps run eagerly", why)
    elif runtime.cuda_graphs == "required":
        raise SrganError(f"runtime.cuda_graphs is required but {why}; set runtime.cuda_graphs: auto to train "
                         "with eager steps")
    else:
        log.warning("%s: training steps run eagerly", why)
    return graphs, why
