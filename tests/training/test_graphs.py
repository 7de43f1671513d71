"""srgan.training.graphs on the CPU: the plan and its messages, the exception texts, the learning-rate check,
and `CapturedStep`'s host-side logic (warm-up counts, capture, replay, fallback, release), with CUDA's graph,
stream and synchronisation calls stood in for (no GPU here). Whole messages and notes are compared.

The training-task level tests (a captured step trains as the eager one, torch's graph context driven without
a GPU) are in test_train.py.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
import torch
from torch.overrides import TorchFunctionMode

from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.training.graphs import (
    CapturedStep,
    _exception_text,
    _root_cause,
    check_captured_lrs,
    graph_plan,
    use_cuda_graphs,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # a device object only: nothing here runs on it
LOGGER = "srgan.training.graphs"

INNER = "CUDA error: operation not permitted when stream is capturing"
OUTER = "CUDA error: operation failed due to a previous error during capture"


def _messages(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]


# ---------------------------------------------------------------- exception texts


def _chain() -> RuntimeError:
    """outer --__cause__ only--> middle --__context__ only--> inner (each link set alone, as Python can)."""
    outer, middle, inner = RuntimeError(" outer "), OSError("middle\nsecond line"), ValueError("inner")
    outer.__cause__ = middle
    middle.__context__ = inner
    assert outer.__context__ is None and middle.__cause__ is None
    return outer


def test_exception_text_follows_causes_and_contexts_outermost_first():
    assert _exception_text(_chain()) == ("RuntimeError: outer\n  from OSError: middle\nsecond line\n"
                                         "  from ValueError: inner")


def test_root_cause_is_the_first_line_of_the_innermost_exception():
    assert _root_cause(_chain()) == "ValueError: inner"
    assert _root_cause(OSError("only\nthe first line")) == "OSError: only"


def test_an_explicit_cause_is_followed_before_the_exception_being_handled():
    """`raise A from B` inside `except C`: __cause__ B and __context__ C; the chain goes through B."""
    try:
        try:
            raise KeyError("handled")
        except KeyError:
            raise RuntimeError("outer") from OSError("the cause")
    except RuntimeError as e:
        error = e
    assert isinstance(error.__context__, KeyError)
    assert _exception_text(error) == "RuntimeError: outer\n  from OSError: the cause"
    assert _root_cause(error) == "OSError: the cause"


class _Cyclic(Exception):
    """An exception whose chain links are counted as they are read: a walk round a cycle stops with an error
    (instead of running forever) after 100 reads."""

    def __init__(self, message: str, reads: list[int]) -> None:
        super().__init__(message)
        self.reads = reads

    def __getattribute__(self, name: str):
        if name in ("__cause__", "__context__"):
            reads = object.__getattribute__(self, "reads")
            reads[0] += 1
            if reads[0] > 100:
                raise RecursionError("the chain was walked round its cycle")
        return super().__getattribute__(name)


def test_a_chain_that_loops_back_is_walked_once():
    reads = [0]
    first, second = _Cyclic("first", reads), _Cyclic("second", reads)
    first.__cause__ = second
    second.__context__ = first
    assert _exception_text(first) == "_Cyclic: first\n  from _Cyclic: second"
    assert _root_cause(first) == "_Cyclic: first"  # back at the first exception: the walk stops there
    selfish = _Cyclic("itself", reads)
    selfish.__context__ = selfish
    assert _exception_text(selfish) == "_Cyclic: itself"
    assert _root_cause(selfish) == "_Cyclic: itself"


@pytest.mark.parametrize("message", ["", "   ", " \n \n"])
def test_root_cause_of_an_exception_without_a_message(message):
    assert _root_cause(RuntimeError(message)) == "RuntimeError: "


@pytest.mark.parametrize("length", [299, 300, 301, 400])
def test_root_cause_is_cut_at_300_characters(length):
    text = "RuntimeError: " + "x" * (length - len("RuntimeError: "))
    assert len(text) == length
    assert _root_cause(RuntimeError(text[len("RuntimeError: "):])) == text[:300]


# ---------------------------------------------------------------- the learning-rate check

LR_MESSAGE = ("the learning rate of the captured training step was replaced (a param group's 'lr' is no longer the "
              "device tensor the CUDA graph reads: torch < 2.4's LR schedulers assign a number), so the graph would "
              "train at a frozen rate; use torch >= 2.4, or set runtime.cuda_graphs: never")


def _optimizers() -> list[torch.optim.Optimizer]:
    torch.manual_seed(0)
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    groups = [{"params": a.weight, "lr": torch.tensor(0.1)}, {"params": a.bias, "lr": torch.tensor(0.3)}]
    return [torch.optim.Adam(groups),
            torch.optim.Adam(b.parameters(), lr=torch.tensor(0.2))]


def test_captured_learning_rates_pass_only_while_each_group_holds_its_tensor():
    optimizers = _optimizers()
    lrs = [g["lr"] for opt in optimizers for g in opt.param_groups]
    assert len(lrs) == 3 and len({id(lr) for lr in lrs}) == 3
    check_captured_lrs(optimizers, lrs)
    check_captured_lrs([], [])
    for captured in (lrs[:2], lrs + [lrs[0]], [lrs[0], lrs[0], lrs[2]], [lrs[0], lrs[1], lrs[2].clone()], []):
        with pytest.raises(SrganError) as err:
            check_captured_lrs(optimizers, captured)
        assert str(err.value) == LR_MESSAGE
    optimizers[1].param_groups[0]["lr"] = 0.2  # an LR scheduler of torch < 2.4 assigns a number
    with pytest.raises(SrganError) as err:
        check_captured_lrs(optimizers, lrs)
    assert str(err.value) == LR_MESSAGE


# ---------------------------------------------------------------- the plan


def _runtime(device=CUDA, amp_dtype=torch.bfloat16, cuda_graphs="auto", world_size=1) -> Runtime:
    return Runtime(device, amp_dtype, True, cuda_graphs=cuda_graphs, world_size=world_size)


NOT_ON_CPU = "CUDA graphs apply on CUDA only (device cpu)"
NOT_WITH_DDP = "CUDA graphs are not used with DistributedDataParallel (runtime.processes > 1)"
NOT_WITH_FP16 = "CUDA graphs are not used with fp16 loss scaling (runtime.precision fp16; bf16 needs no scaler)"
GRAPHED = "training steps run as CUDA graphs"


@pytest.mark.parametrize(("runtime", "expected"), [
    (_runtime(cuda_graphs="never"), (False, "runtime.cuda_graphs is never")),
    (_runtime(CPU, cuda_graphs="never"), (False, "runtime.cuda_graphs is never")),
    (_runtime(CPU), (False, NOT_ON_CPU)),
    (_runtime(CPU, cuda_graphs="required"), (False, NOT_ON_CPU)),
    (_runtime(world_size=2), (False, NOT_WITH_DDP)),
    (_runtime(amp_dtype=torch.float16, world_size=2), (False, NOT_WITH_DDP)),
    (_runtime(amp_dtype=torch.float16), (False, NOT_WITH_FP16)),
    (_runtime(), (True, GRAPHED)),
    (_runtime(amp_dtype=None, cuda_graphs="required"), (True, GRAPHED)),
])
def test_use_cuda_graphs_says_whether_and_why_not(runtime, expected):
    assert use_cuda_graphs(runtime) == expected


@pytest.mark.parametrize("runtime", [_runtime(cuda_graphs="never"), _runtime(CPU, cuda_graphs="never"),
                                     _runtime(amp_dtype=torch.float16, cuda_graphs="never"),
                                     _runtime(world_size=2, cuda_graphs="never")])
def test_the_plan_for_never_says_nothing(runtime, caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert graph_plan(runtime) == (False, "runtime.cuda_graphs is never")
    assert _messages(caplog) == []


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_the_plan_of_a_run_that_can_graph_says_nothing_and_graphs(mode, caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert graph_plan(_runtime(cuda_graphs=mode)) == (True, GRAPHED)
    assert _messages(caplog) == []


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_the_plan_on_the_cpu_is_said_at_info(mode, caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert graph_plan(_runtime(CPU, cuda_graphs=mode)) == (False, NOT_ON_CPU)
    assert _messages(caplog) == [("INFO", NOT_ON_CPU + ": training steps run eagerly")]


@pytest.mark.parametrize("why", [NOT_WITH_DDP, NOT_WITH_FP16])
def test_the_plan_of_an_auto_cuda_run_that_cannot_graph_warns(why, caplog):
    runtime = _runtime(amp_dtype=torch.float16) if why == NOT_WITH_FP16 else _runtime(world_size=2)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert graph_plan(runtime) == (False, why)
    assert _messages(caplog) == [("WARNING", why + ": training steps run eagerly")]


@pytest.mark.parametrize("why", [NOT_WITH_DDP, NOT_WITH_FP16])
def test_the_plan_of_a_required_cuda_run_that_cannot_graph_stops(why, caplog):
    fields = {"amp_dtype": torch.float16} if why == NOT_WITH_FP16 else {"world_size": 2}
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(SrganError) as err:
        graph_plan(_runtime(cuda_graphs="required", **fields))
    assert str(err.value) == (f"runtime.cuda_graphs is required but {why}; set runtime.cuda_graphs: auto to train "
                              "with eager steps")
    assert _messages(caplog) == []


# ---------------------------------------------------------------- CapturedStep: fakes


class _Step:
    """A step function: records the inputs of each call, returns their sum as its loss."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __call__(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls.append(inputs)
        return {"loss": sum(x.sum() for x in inputs)}


class _Graph:
    """The CPU stand-in for a captured graph: `replay` runs the step on the static inputs into the same outputs."""

    def __init__(self, step, inputs) -> None:
        self.step, self.inputs, self.outputs = step, inputs, {}
        self.replays = self.resets = 0

    def replay(self) -> None:
        self.replays += 1
        self.outputs.update(self.step(*self.inputs))

    def reset(self) -> None:
        self.resets += 1


class _OldGraph(_Graph):
    """A graph of a torch without `CUDAGraph.reset`."""

    def __getattribute__(self, name: str):
        if name == "reset":
            raise AttributeError(name)
        return super().__getattribute__(name)


class _Capture:
    """`capture`: records each call; fails (an outer CUDA error raised from an inner one) when `fails(inputs)`."""

    def __init__(self, fails=lambda inputs: False, graph=_Graph, events=None) -> None:
        self.fails, self.graph, self.events = fails, graph, events
        self.calls: list[tuple] = []
        self.graphs: list[_Graph] = []

    def __call__(self, step, inputs):
        self.calls.append((step, inputs))
        if self.events is not None:
            self.events.append("capture")
        if self.fails(inputs):
            try:
                raise RuntimeError(INNER)
            except RuntimeError as e:
                raise RuntimeError(OUTER) from e
        graph = self.graph(step, inputs)
        self.graphs.append(graph)
        return graph, graph.outputs


def _batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((2,), float(i)), torch.full((3,), 10.0 + i)


def _loss(i: int) -> float:
    return 2 * i + 3 * (10.0 + i)


# ---------------------------------------------------------------- CapturedStep: warm-up, capture, replay


def test_a_new_step_is_uncaptured_and_says_so():
    captured = CapturedStep(_Step(), [], CPU)
    assert captured.mode == "auto" and captured.warmup == 3 and captured.cut is None
    assert captured.eager is False and captured.cut_inside is False and captured.calls == 0
    assert captured.graph is None and captured.inputs is None and captured.outputs == {} and captured.lrs == []
    assert captured.note == "not captured: the session ended within its 3 eager warm-up steps"
    five = CapturedStep(_Step(), [], CPU, warmup=5, cut=lambda packed: (packed, packed))
    assert five.note == "not captured: the session ended within its 5 eager warm-up steps"
    assert five.cut_inside is True


@pytest.mark.parametrize(("warmup", "note"), [(0, "captured after 0 eager warm-up steps"),
                                              (1, "captured after 1 eager warm-up steps"),
                                              (3, "captured after 3 eager warm-up steps")])
def test_the_step_is_captured_on_the_call_after_its_warm_up(warmup, note, caplog):
    step, capture, optimizers = _Step(), _Capture(), _optimizers()
    captured = CapturedStep(step, optimizers, CPU, "required", capture, warmup)
    batches = [_batch(i) for i in range(warmup + 3)]
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for i, batch in enumerate(batches):
            out = captured(*batch)
            assert out["loss"].item() == _loss(i), i
            if i < warmup:  # eager, on the very tensors given
                assert capture.calls == [] and captured.graph is None and captured.calls == i + 1
                assert step.calls[-1][0] is batch[0] and step.calls[-1][1] is batch[1]
                assert captured.note == f"not captured: the session ended within its {warmup} eager warm-up steps"
            else:
                assert out is captured.outputs and len(capture.calls) == 1 and captured.calls == warmup
                assert capture.graphs[0].replays == i - warmup + 1
    assert len(step.calls) == warmup + 3  # each call ran the step once (eagerly, or replayed)
    assert captured.note == note and captured.eager is False
    assert captured.lrs == [g["lr"] for opt in optimizers for g in opt.param_groups]
    assert all(a is b for a, b in zip(captured.lrs, [g["lr"] for opt in optimizers for g in opt.param_groups]))
    assert _messages(caplog) == [("INFO", f"training step captured as a CUDA graph after {warmup} eager steps")]


def test_the_graph_reads_copies_of_the_first_batch_on_the_step_device():
    """The static inputs are new tensors on the step's device (meta: a device that is not the inputs')."""
    capture = _Capture(graph=lambda step, inputs: _Graph(lambda *x: {}, inputs))
    captured = CapturedStep(_Step(), [], torch.device("meta"), capture=capture, warmup=0)
    captured(*_batch(0))
    (_, inputs), = capture.calls
    assert [(x.device.type, x.shape) for x in inputs] == [("meta", (2,)), ("meta", (3,))]
    assert captured.inputs is inputs


def test_replays_copy_each_batch_into_the_graphs_own_buffers():
    """The batch a graph was captured on is copied, not adopted: later replays do not overwrite it."""
    capture = _Capture()
    captured = CapturedStep(_Step(), [], CPU, capture=capture, warmup=0)
    first = _batch(0)
    captured(*first)
    (_, static), = capture.calls
    assert all(s is not f and s.data_ptr() != f.data_ptr() for s, f in zip(static, first))
    for i in (1, 2):
        assert captured(*_batch(i))["loss"].item() == _loss(i)
        assert torch.equal(static[0], _batch(i)[0]) and torch.equal(static[1], _batch(i)[1])
    assert torch.equal(first[0], _batch(0)[0]) and torch.equal(first[1], _batch(0)[1])


class _Copies(TorchFunctionMode):
    """Records the `non_blocking` of each Tensor.copy_."""

    def __init__(self) -> None:
        super().__init__()
        self.non_blocking: list = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.copy_:
            self.non_blocking.append(kwargs.get("non_blocking", "not given"))
        return func(*args, **kwargs)


def test_a_replay_copies_its_inputs_in_without_waiting_for_the_host():
    captured = CapturedStep(_Step(), [], CPU, capture=_Capture(), warmup=0)
    captured(*_batch(0))
    with _Copies() as copies:
        captured(*_batch(1))
    assert copies.non_blocking == [True, True]


@pytest.mark.parametrize("count", [1, 3])
def test_a_replay_with_another_number_of_inputs_than_captured_stops(count):
    captured = CapturedStep(_Step(), [], CPU, capture=_Capture(), warmup=0)
    captured(*_batch(0))
    with pytest.raises(ValueError, match="zip"):
        captured(*(torch.zeros(2), torch.zeros(3), torch.zeros(4))[:count])


def test_a_replay_checks_the_learning_rates_first():
    optimizers = _optimizers()
    capture = _Capture()
    captured = CapturedStep(_Step(), optimizers, CPU, capture=capture, warmup=0)
    captured(*_batch(0))
    optimizers[0].param_groups[1]["lr"] = 0.1
    with pytest.raises(SrganError) as err:
        captured(*_batch(1))
    assert str(err.value) == LR_MESSAGE and capture.graphs[0].replays == 1


# ---------------------------------------------------------------- CapturedStep: release and fresh


def test_release_resets_the_graph_and_drops_its_buffers():
    capture = _Capture()
    captured = CapturedStep(_Step(), _optimizers(), CPU, capture=capture, warmup=0)
    captured.release()  # nothing captured yet: nothing to reset
    captured(*_batch(0))
    graph = capture.graphs[0]
    assert captured.graph is graph and graph.resets == 0
    captured.release()
    assert graph.resets == 1
    assert captured.graph is None and captured.inputs is None and captured.outputs == {} and captured.lrs == []
    captured.release()
    assert graph.resets == 1


def test_release_of_a_graph_without_reset_drops_it():
    capture = _Capture(graph=_OldGraph)
    captured = CapturedStep(_Step(), [], CPU, capture=capture, warmup=0)
    captured(*_batch(0))
    captured.release()
    assert captured.graph is None and captured.inputs is None and captured.outputs == {}


def test_fresh_releases_the_graph_and_keeps_the_settings():
    step, optimizers, capture = _Step(), _optimizers(), _Capture()

    def cut(packed):
        return packed, packed

    captured = CapturedStep(step, optimizers, CPU, "required", capture, warmup=0)
    captured(*_batch(0))
    again = captured.fresh(cut)
    assert capture.graphs[0].resets == 1 and captured.graph is None
    assert (again.step, again.optimizers, again.device, again.mode, again.capture, again.warmup, again.cut) == (
        step, optimizers, CPU, "required", capture, 0, cut)
    assert again.graph is None and again.calls == 0 and again.cut_inside is True
    assert again.fresh().cut is cut


# ---------------------------------------------------------------- CapturedStep: a capture that fails

CAUSE = f"RuntimeError: {INNER}"
WHOLE_CAUSE = f"RuntimeError: {OUTER}\n  from RuntimeError: {INNER}"


def test_a_failed_capture_under_auto_runs_every_step_eagerly_and_says_why(caplog):
    step, capture = _Step(), _Capture(fails=lambda inputs: True)
    captured = CapturedStep(step, [], CPU, capture=capture, warmup=2)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for i in range(5):
            assert captured(*_batch(i))["loss"].item() == _loss(i)
            assert torch.equal(step.calls[-1][0], _batch(i)[0])
    assert len(capture.calls) == 1 and len(step.calls) == 5  # one try, on the third call; every step eagerly
    assert captured.eager is True and captured.graph is None and captured.inputs is None and captured.outputs == {}
    assert captured.note == f"capture failed, eager steps: {CAUSE}"
    assert _messages(caplog) == [("WARNING", "CUDA graph capture of the training step failed; training goes on with "
                                             "eager steps (the same step function). The cause:\n  " + WHOLE_CAUSE)]


def test_a_failed_capture_under_required_stops_in_one_line_and_logs_the_whole_cause(caplog):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.1))

    def step(x, y):
        loss = (model(x) - y).square().mean()
        loss.backward()  # the gradients stay: a failed capture must drop them
        return {"loss": loss.detach()}

    captured = CapturedStep(step, [optimizer], CPU, "required", _Capture(fails=lambda inputs: True), warmup=1)
    x, y = torch.ones(4, 2), torch.zeros(4, 1)
    captured(x, y)
    assert all(p.grad is not None for p in model.parameters())
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(SrganError) as err:
        captured(x, y)
    assert str(err.value) == (f"CUDA graph capture of the training step failed ({CAUSE}) and runtime.cuda_graphs is "
                              "required; set runtime.cuda_graphs: auto to train with eager steps (the log above has "
                              "the whole cause)")
    assert isinstance(err.value.__cause__, RuntimeError) and str(err.value.__cause__) == OUTER
    assert _messages(caplog) == [("ERROR", "CUDA graph capture of the training step failed:\n  " + WHOLE_CAUSE)]
    assert all(p.grad is None for p in model.parameters())
    assert captured.eager is True and captured.note == f"capture failed, eager steps: {CAUSE}"


def _cut(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return packed[:2] * 1.0, packed[2:] * 1.0


def test_a_cut_captured_inside_the_graph_says_so():
    capture = _Capture()
    captured = CapturedStep(_Step(), [], CPU, capture=capture, warmup=1, cut=_cut)
    packed = [torch.arange(5.0) + i for i in range(3)]
    for i, p in enumerate(packed):
        assert captured(p)["loss"].item() == p.sum().item(), i
    (step, inputs), = capture.calls
    assert len(inputs) == 1 and captured.cut_inside is True
    assert captured.note == "captured after 1 eager warm-up steps (patches cut inside the graph)"


def test_a_cut_that_fails_inside_the_graph_runs_before_each_replay(caplog):
    step, capture = _Step(), _Capture(fails=lambda inputs: len(inputs) == 1)
    captured = CapturedStep(step, [], CPU, "required", capture, warmup=1, cut=_cut)
    packed = [torch.arange(5.0) + i for i in range(4)]
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for i, p in enumerate(packed):
            assert captured(p)["loss"].item() == p.sum().item(), i
    assert [len(inputs) for _, inputs in capture.calls] == [1, 2]  # with the cut inside, then the step alone
    assert capture.calls[1][0] is step
    assert captured.cut_inside is False and captured.eager is False and len(captured.inputs) == 2
    assert torch.equal(captured.inputs[0], packed[-1][:2]) and torch.equal(captured.inputs[1], packed[-1][2:])
    assert captured.note == ("captured after 1 eager warm-up steps (patches cut before each replay; with the cut "
                             f"inside: {CAUSE})")
    assert _messages(caplog) == [
        ("WARNING", "CUDA graph capture of the training step with its patch cut inside failed; capturing the step "
                    "alone, patches cut eagerly before each replay. The cause:\n  " + WHOLE_CAUSE),
        ("INFO", "training step captured as a CUDA graph after 1 eager steps")]


def test_a_cut_and_a_step_that_both_fail_run_eagerly(caplog):
    step, capture = _Step(), _Capture(fails=lambda inputs: True)
    captured = CapturedStep(step, [], CPU, capture=capture, warmup=0, cut=_cut)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert captured(torch.arange(5.0))["loss"].item() == 10.0
    assert [len(inputs) for _, inputs in capture.calls] == [1, 2]
    assert captured.eager is True and captured.cut_inside is False
    assert captured.note == f"capture failed, eager steps: {CAUSE}"
    assert [level for level, _ in _messages(caplog)] == ["WARNING", "WARNING"]


# ---------------------------------------------------------------- CapturedStep on a CUDA device, stood in for


class _Stream:
    def __init__(self, name: str, events: list) -> None:
        self.name, self.events = name, events

    def wait_stream(self, other) -> None:
        self.events.append(f"{self.name} waits for {other.name}")


class _Cuda:
    """torch.cuda's stream, synchronisation and cache calls, recorded (no GPU here)."""

    def __init__(self, monkeypatch) -> None:
        self.events: list[str] = []
        self.current = _Stream("default", self.events)
        monkeypatch.setattr(torch.cuda, "Stream", lambda *a, **k: _Stream("side", self.events))
        monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: self.current)
        monkeypatch.setattr(torch.cuda, "stream", self.stream)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: self.events.append("synchronize"))
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: self.events.append("empty_cache"))

    @contextlib.contextmanager
    def stream(self, stream):
        before, self.current = self.current, stream
        yield
        self.current = before


def test_warm_up_steps_on_cuda_run_on_a_side_stream(monkeypatch):
    cuda = _Cuda(monkeypatch)

    def step(*inputs):
        cuda.events.append(f"step on {cuda.current.name}")
        return {"loss": sum(x.sum() for x in inputs)}

    captured = CapturedStep(step, [], CUDA, capture=_Capture(), warmup=2)
    for i in range(2):
        assert captured(*_batch(i))["loss"].item() == _loss(i)
    assert cuda.current.name == "default"
    assert cuda.events == ["side waits for default", "step on side", "default waits for side"] * 2


def test_warm_up_steps_on_the_cpu_use_no_cuda_stream(monkeypatch):
    cuda = _Cuda(monkeypatch)
    captured = CapturedStep(_Step(), [], CPU, capture=_Capture(), warmup=2)
    captured(*_batch(0))
    captured(*_batch(1))
    captured(*_batch(2))
    assert cuda.events == [] and captured.graph is not None


def _on_cuda(captured: CapturedStep) -> CapturedStep:
    """The static buffers made on the CPU (`.to("cuda")` needs a GPU)."""
    captured._static = lambda inputs: tuple(x.clone() for x in inputs)
    return captured


def test_a_capture_on_cuda_starts_after_the_device_is_idle(monkeypatch):
    cuda = _Cuda(monkeypatch)
    captured = _on_cuda(CapturedStep(_Step(), [], CUDA, capture=_Capture(events=cuda.events), warmup=0))
    assert captured(*_batch(0))["loss"].item() == _loss(0)
    assert cuda.events == ["synchronize", "capture"]


def test_a_failed_capture_on_cuda_hands_its_memory_back(monkeypatch):
    cuda = _Cuda(monkeypatch)
    capture = _Capture(fails=lambda inputs: True, events=cuda.events)
    captured = _on_cuda(CapturedStep(_Step(), [], CUDA, capture=capture, warmup=0))
    assert captured(*_batch(0))["loss"].item() == _loss(0)
    assert cuda.events == ["synchronize", "capture", "synchronize", "empty_cache"]


def test_captures_on_the_cpu_neither_synchronise_nor_empty_the_cache(monkeypatch):
    cuda = _Cuda(monkeypatch)
    for fails in (False, True):
        captured = CapturedStep(_Step(), [], CPU, capture=_Capture(fails=lambda inputs: fails), warmup=0)
        captured(*_batch(0))
    assert cuda.events == []
