"""The study as it was run (params `study_code`): each defect of its public code (unique-chan/SRGAN) as a switch.

Every switch is checked on the CPU against what the study's code computed:
its extractors (module lists, shapes, against references built directly from torchvision), the
detached adversarial term, the one-verdict-per-batch discriminator, the [0, 1] pixel MSE, the
shared BatchNorm, the last-epoch checkpoint and BatchNorm in training mode at test time.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import srgan.core.study_code as study_code
from srgan.core.config import load_params
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import AsRunScoring
from srgan.core.records import ScoredCheckpoint, TrainingSummary, write_summary
from srgan.core.runtime import Runtime
from srgan.core.sections import params_view, view_log
from srgan.core.study_code import (
    EVALUATE,
    FEATURE_TRAIN,
    SRGAN_TRAIN,
    SRRESNET_EVALUATE,
    TRAIN,
    AsRunProtocol,
    FeatureCode,
    GanCode,
    GeneratorCode,
    StudyCodeParams,
    TrainingCode,
    _switch,
    as_run_protocol,
    declared_by,
    switch_groups,
    training_code,
)
from srgan.core.tensors import to_tensor
from srgan.datasets.prepared import EvalImage, centre_crop
from srgan.inference.folding import fold_batchnorm
from srgan.inference.generator import save_generator, super_resolve
from srgan.losses.content import ContentLoss
from srgan.losses.extractors import FeatureExtractor, feature_content_loss
from srgan.losses.terms import as_run_term, asrun_resnet_modules, check_variant_terms, feature_term
from srgan.nets.discriminator import AsRunDiscriminator, build_discriminator
from srgan.nets.srresnet import SRResNet, architecture, build_generator
from srgan.scoring import metrics
from srgan.scoring.evaluate import Scorer, evaluate_run
from srgan.training.srgan import GanContext, gan_step
from srgan.training.step import StepContext

ROOT = Path(__file__).resolve().parents[2]
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _random(model: str) -> nn.Module:
    """A torchvision model with the weights `load_backbone` gives for weights="random" (seed 0)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return torchvision.models.get_model(model, weights=None).eval()


# ---------------------------------------------------------------- the study's extractors


@pytest.mark.parametrize("name, depth, expected", [
    ("res18_4", 18, ["layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0"]),
    ("res34_3", 34, ["layer2.0", "layer2.1", "layer2.2", "layer2.3", "layer3.0", "layer4.0"]),
    ("res34_5", 34, ["layer2.0", "layer2.1", "layer2.2", "layer2.3", "layer3.0", "layer3.1", "layer4.0"]),
])
def test_asrun_resnet_cuts_are_the_briefs(name: str, depth: int, expected: list[str]) -> None:
    spec = feature_term(f"asrun/{name}", name)
    assert spec.model == f"resnet{depth}" and spec.modules == ("conv1", "bn1", "relu", "maxpool", *expected)
    assert asrun_resnet_modules(depth, int(name[-1])) == spec.modules
    extractor = FeatureExtractor(spec, "random", False, normalise=False)
    img = torch.rand(2, 3, 96, 96)
    out = extractor(img)
    assert out.shape == (2, 512, 3, 3)  # 512 channels at 1/32 scale
    resnet = _random(f"resnet{depth}")
    reference = nn.Sequential(*(resnet.get_submodule(m) for m in spec.modules))
    torch.testing.assert_close(out, reference(img), rtol=0, atol=0)


def test_asrun_vgg_is_vgg19_bn_up_to_conv4_4_before_its_batchnorm() -> None:
    spec = feature_term("asrun/vgg19_5_4", "x")
    assert (spec.model, spec.node) == ("vgg19_bn", "features.36")
    features = _random("vgg19_bn").features
    assert isinstance(features[36], nn.Conv2d) and isinstance(features[37], nn.BatchNorm2d)
    convs = [i for i, layer in enumerate(features) if isinstance(layer, nn.Conv2d)]
    assert convs.index(36) == 11  # the 12th conv: block 4's fourth (2 + 2 + 4 + 4)
    extractor = FeatureExtractor(spec, "random", False, normalise=False)
    img = torch.rand(1, 3, 64, 64)
    out = extractor(img)
    assert out.shape == (1, 512, 8, 8)
    torch.testing.assert_close(out, features[:37](img), rtol=1e-5, atol=1e-5)


def test_feature_cuts_as_run_maps_the_study_names_and_only_them() -> None:
    assert [as_run_term(t) for t in ("vgg19_5_4", "res18_4", "res34_3", "res34_5", "res18_3", "mse")] == [
        "asrun/vgg19_5_4", "asrun/res18_4", "asrun/res34_3", "asrun/res34_5", "res18_3", "mse"]
    loss = feature_content_loss({"mse": 0.6, "vgg19_5_4": 0.4}, "random",
                                code=FeatureCode(as_run_cuts=True, normalise=False))
    assert loss.term_weights == {"mse": 0.6, "vgg19_5_4": 0.4}  # the study's names stay the variant's
    assert loss.extractors[0].term.model == "vgg19_bn" and not loss.extractors[0].normalise
    check_variant_terms({"asrun/res18_4": 1.0}, "srgan.variants.x")
    with pytest.raises(SrganError, match="asrun/res18_9"):
        check_variant_terms({"asrun/res18_9": 1.0}, "srgan.variants.x")


def test_unnormalised_extractors_see_the_raw_image_and_no_rescale() -> None:
    spec = feature_term("vgg19_5_4", "x")
    plain = FeatureExtractor(spec, "random", False, normalise=False)
    paper = FeatureExtractor(spec, "random", False)
    img = torch.rand(1, 3, 48, 48)
    torch.testing.assert_close(plain(img), plain.body(img)["features"], rtol=0, atol=0)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(paper(img), paper.body((img - mean) / std)["features"] / 12.75, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- the losses and the discriminator


def test_unit_mse_range_is_exactly_a_quarter_of_the_signed_one() -> None:
    sr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    signed, _ = ContentLoss({"mse": 1.0})(sr, hr)
    unit, _ = ContentLoss({"mse": 1.0}, mse_scale=1.0)(sr, hr)
    assert unit * 4 == signed
    torch.testing.assert_close(unit, nn.functional.mse_loss(sr, hr), rtol=0, atol=0)


@pytest.mark.parametrize("mse_range", ["signed", "unit"])
@pytest.mark.parametrize("kind", TRAIN)
def test_the_pixel_mse_a_training_stage_builds_is_the_hand_computed_one_for_each_mse_range(kind, mse_range) -> None:
    """Only mse_range switched from params.yaml's study_code, resolved by `training_code` (what the training
    setup calls) and passed as the stages pass it (ContentLoss, or feature_content_loss in the feature stages):
    the pixel MSE is numpy's mean squared difference of the [-1, 1] intensities 2x - 1 (signed) or of the [0, 1]
    ones (unit), so 4x and 1x that of [0, 1]; an L1 term beside it stays on [0, 1] either way."""
    study = dataclasses.replace(load_params(ROOT / "params.yaml").study_code, mse_range=mse_range)
    code = training_code(study, kind)
    assert code.mse_scale == {"signed": 4.0, "unit": 1.0}[mse_range]
    rng = np.random.default_rng(3)
    sr_np, hr_np = rng.random((2, 3, 8, 8)), rng.random((2, 3, 8, 8))
    to_range = (lambda x: 2.0 * x - 1.0) if mse_range == "signed" else (lambda x: x)
    mse_by_hand = float(np.mean((to_range(sr_np) - to_range(hr_np)) ** 2))
    l1_by_hand = float(np.mean(np.abs(sr_np - hr_np)))
    terms = {"mse": 1.0, "l1": 0.5}
    loss = (feature_content_loss(terms, "random", code=code.features, mse_scale=code.mse_scale, key="k")
            if code.features is not None else ContentLoss(terms, mse_scale=code.mse_scale, key="k"))
    total, parts = loss(torch.from_numpy(sr_np).float(), torch.from_numpy(hr_np).float())
    assert float(parts["mse"]) == pytest.approx(mse_by_hand, rel=1e-6)
    assert float(parts["l1"]) == pytest.approx(l1_by_hand, rel=1e-6)
    assert float(total) == pytest.approx(mse_by_hand + 0.5 * l1_by_hand, rel=1e-6)


def test_the_detached_adversarial_term_leaves_gs_gradient_content_only() -> None:
    """The study's defect: with the adversarial term detached, G's gradient is the content loss's alone."""
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    grads = {}
    for name, weight, with_gradient in (("content only", 0.0, True), ("detached", 1.0, False),
                                        ("paper", 1.0, True)):
        torch.manual_seed(1)
        gen, disc = SRResNet(num_blocks=1, channels=8), build_discriminator("paper", 32)
        opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=0.0) for m in (gen, disc))
        ctx = GanContext(gen, disc, ContentLoss({"mse": 1.0}), opt_g, opt_d, weight, with_gradient, StepContext(CPU))
        scalars = gan_step(ctx, lr_img, hr_img)
        grads[name] = torch.cat([p.grad.flatten() for p in gen.parameters()])
        assert float(scalars["loss/adversarial"]) > 0  # the term is still computed (and logged)
    assert torch.equal(grads["detached"], grads["content only"])
    assert not torch.allclose(grads["paper"], grads["content only"])


def test_the_as_run_discriminator_gives_one_verdict_per_batch() -> None:
    torch.manual_seed(0)
    disc = AsRunDiscriminator(patch_px=128)
    strides = [m.stride[0] for m in disc.features if isinstance(m, nn.Conv2d)]
    assert strides == [1, 2, 1, 2, 1, 1, 2] and np.prod(strides) == 8  # 6 blocks after the first conv
    for batch in (1, 4):
        assert disc(torch.rand(batch, 3, 128, 128)).shape == (1, 1)
    batch = torch.rand(4, 3, 128, 128)
    rows = disc.features(batch).reshape(-1, 1024)  # 4 images x 512 x 16 x 16 -> 512 rows that mix them
    assert rows.shape == (512, 1024)
    torch.testing.assert_close(disc(batch), disc.classifier(rows).mean().view(1, 1))
    # So the losses compare one number per batch: a batch of real and fake patches gets a single verdict.
    assert build_discriminator("as_run", 128)(torch.rand(2, 3, 128, 128)).numel() == 1


# ---------------------------------------------------------------- the generator


def test_shared_bn_generator_has_one_batchnorm_per_block_and_round_trips() -> None:
    torch.manual_seed(0)
    model = SRResNet(num_blocks=3, channels=8, shared_bn=True)
    assert all(block.norms()[0] is block.norms()[1] for block in model.body)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.body.modules()) == 3
    state = model.state_dict()
    assert "body.0.bn.weight" in state and "body.0.bn1.weight" not in state
    rebuilt = build_generator(architecture(model))
    rebuilt.load_state_dict(state)
    assert rebuilt.shared_bn and rebuilt.num_blocks == 3
    for module in model.modules():  # non-trivial statistics, so folding has something to fold
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    lr_img = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(model)(lr_img), model.eval()(lr_img), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- the study protocol as run


def _pair(seed: int) -> EvalImage:
    rng = np.random.default_rng(seed)
    hr = np.kron(rng.integers(0, 256, (12, 14, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    return EvalImage(f"i{seed}", hr[::4, ::4].copy(), hr, False)


def _trained_like(seed: int) -> SRResNet:
    torch.manual_seed(seed)
    model = SRResNet(num_blocks=2, channels=8)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.2, 2.0)
    with torch.no_grad():
        model.tail.bias.fill_(0.45)
    return model


def test_bn_in_training_mode_changes_outputs_and_uses_each_images_own_statistics() -> None:
    model = _trained_like(0)
    images = [_pair(1), _pair(2)]
    lr = [to_tensor(i.lr_u8)[None] for i in images]
    eval_sr = super_resolve(model.eval(), lr[0], CPU)
    train_first = super_resolve(model.train(), lr[0], CPU)
    super_resolve(model.train(), lr[1], CPU)  # moves the running statistics
    train_again = super_resolve(model.train(), lr[0], CPU)
    assert not torch.allclose(eval_sr, train_first)  # the statistics are not the running ones
    torch.testing.assert_close(train_first, train_again, rtol=0, atol=0)  # only the image's own count
    # The same as an eval-mode model whose statistics are the image's own, layer by layer: its batch
    # of one image normalised with its own mean and (biased) variance.
    assert not torch.equal(model.body[0].bn1.running_mean, _trained_like(0).body[0].bn1.running_mean)


def test_as_run_protocol_scores_the_last_checkpoint_unclamped_in_training_mode(tmp_path: Path) -> None:
    run_dir = tmp_path / "srresnet" / "mse"
    best, last = _trained_like(1), _trained_like(2)
    for name, model in (("best.pt", best), ("last.pt", last)):
        save_generator(run_dir / name, model)
    write_summary(run_dir, TrainingSummary(
        experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={"mse": "none"},
        unit="step",
        steps=20, steps_per_epoch=1, best_step=10, best_valid_psnr_y_db=25.0, bad_steps=0, processes=1,
        history=(), scored=(ScoredCheckpoint("best", "best.pt", 10, "step", 20),),
        last=ScoredCheckpoint("last", "last.pt", 20, "step", 20)))
    images = [_pair(3), _pair(4)]
    scorer = Scorer(4, None, "unavailable: test")
    protocol = AsRunProtocol(scored_file="last", bn_mode="train", clamp=False)
    run, _ = evaluate_run(run_dir, {"tiny": images}, scorer, CPU, as_run=protocol)
    assert run.as_run_scoring == AsRunScoring({"best": "last.pt"}, "train", False)
    expected = []
    for item in images:  # by hand: last.pt, training-mode BatchNorm, no clamp
        sr = super_resolve(last.train(), to_tensor(item.lr_u8)[None], CPU, clamp=False)
        expected.append(float(metrics.psnr_rgb(sr, to_tensor(item.hr_u8)[None], clamp=False)[0]))
    assert run.as_run["best"]["tiny"]["psnr_rgb_db"] == pytest.approx(np.mean(expected), abs=1e-4)
    assert run.scores["best"]["tiny"]["psnr_rgb_db"] != run.as_run["best"]["tiny"]["psnr_rgb_db"]
    ours, _ = evaluate_run(run_dir, {"tiny": images}, scorer, CPU)
    assert ours.as_run is None and ours.scores == run.scores  # the switches change no as-intended number


@pytest.mark.parametrize(("switch", "value", "protocol", "file", "bn_train", "clamp"), [
    ("best_file", "last", AsRunProtocol("last", "eval", True), "last.pt", False, True),
    ("eval_bn_mode", "train", AsRunProtocol("scored", "train", True), "best.pt", True, True),
    ("eval_clamp", False, AsRunProtocol("scored", "eval", False), "best.pt", False, False),
])
def test_each_evaluation_switch_on_its_own_scores_what_the_studys_code_would(
        tmp_path: Path, switch: str, value, protocol: AsRunProtocol, file: str, bn_train: bool, clamp: bool) -> None:
    """One switch set, the others corrected: the protocol says just that, SRGAN points are unaffected by
    `best_file`, and the as-run scores are the study protocol computed by hand that one way."""
    study = dataclasses.replace(load_params(ROOT / "params.yaml").study_code, **{switch: value})
    assert as_run_protocol(study, "srresnet") == protocol
    assert (as_run_protocol(study, "srgan") is None) == (switch == "best_file")
    run_dir = tmp_path / "srresnet" / "mse"
    models = {"best.pt": _trained_like(1), "last.pt": _trained_like(2)}
    for name, model in models.items():
        with torch.no_grad():  # bright enough that some pixels leave [0, 1]: clamping then matters
            model.tail.bias.fill_(0.9)
        save_generator(run_dir / name, model)
    write_summary(run_dir, TrainingSummary(
        experiment="srresnet", variant="mse", seed=0, loss_terms={"mse": 1.0}, feature_weights={"mse": "none"},
        unit="step",
        steps=20, steps_per_epoch=1, best_step=10, best_valid_psnr_y_db=25.0, bad_steps=0, processes=1,
        history=(), scored=(ScoredCheckpoint("best", "best.pt", 10, "step", 20),),
        last=ScoredCheckpoint("last", "last.pt", 20, "step", 20)))
    images = [_pair(3), _pair(4)]
    run, _ = evaluate_run(run_dir, {"tiny": images}, Scorer(4, None, "unavailable: test"), CPU, as_run=protocol)
    assert run.as_run_scoring == AsRunScoring({"best": file}, protocol.bn_mode, protocol.clamp)
    model = models[file].train() if bn_train else models[file].eval()
    expected = []
    for item in images:
        sr = super_resolve(model, to_tensor(item.lr_u8)[None], CPU, clamp=clamp)
        expected.append(float(metrics.psnr_rgb(sr, to_tensor(item.hr_u8)[None], clamp=clamp)[0]))
    assert run.as_run["best"]["tiny"]["psnr_rgb_db"] == pytest.approx(np.mean(expected), abs=1e-4)
    assert run.as_run["best"]["tiny"]["psnr_rgb_db"] != run.scores["best"]["tiny"]["psnr_rgb_db"]


def test_unclamped_scores_differ_only_where_sr_leaves_the_range() -> None:
    hr = torch.rand(1, 3, 170, 170)
    inside = (hr * 0.9 + 0.05).clamp(0, 1)
    assert metrics.psnr_rgb(inside, hr, clamp=False) == metrics.psnr_rgb(inside, hr)
    outside = inside.clone()
    outside[..., :20, :20] = 1.3
    assert metrics.psnr_rgb(outside, hr, clamp=False) < metrics.psnr_rgb(outside, hr)


def test_validation_centre_crops() -> None:
    item = _pair(5)  # HR 48 x 56
    crop = centre_crop(item, 32, 4)
    assert crop.hr_u8.shape == (32, 32, 3) and crop.lr_u8.shape == (8, 8, 3)
    np.testing.assert_array_equal(crop.hr_u8, item.hr_u8[8:40, 12:44])
    assert centre_crop(item, 256, 4).hr_u8.shape == item.hr_u8.shape  # larger than the image: kept whole


# ---------------------------------------------------------------- the profiles


def test_only_the_as_run_profile_turns_the_switches_on() -> None:
    corrected = load_params(ROOT / "params.yaml").study_code
    assert as_run_protocol(corrected, "srresnet") is None and corrected.adversarial_gradient and not corrected.shared_bn
    for profile in sorted((ROOT / "profiles").glob("*.yaml")):
        study = load_params(profile).study_code
        if profile.stem == "study_as_run":
            assert as_run_protocol(study, "srresnet") == AsRunProtocol("last", "train", False)
            assert not study.adversarial_gradient and study.shared_bn and not study.generator_bias
            assert (study.discriminator, study.feature_cuts, study.mse_range, study.rotation) == (
                "as_run", "as_run", "unit", "nearest_black")
            assert not study.feature_normalisation
            params = load_params(profile)  # the study validated SRGAN on 256-px centre crops
            assert params.srresnet.valid_crop_px == params.srgan.valid_crop_px == 256
        else:
            assert study == corrected, profile.name


def test_the_as_run_profile_states_its_batch_size_and_why() -> None:
    text = (ROOT / "profiles" / "study_as_run.yaml").read_text()
    params = load_params(ROOT / "profiles" / "study_as_run.yaml")
    assert params.srresnet.batch_size == params.srgan.batch_size == 40
    assert "README's example command uses 40" in text
    assert params.srgan.checkpoints == (100, 200) and params.srresnet.epochs == 250


# ---------------------------------------------------------------- resolved once, per stage kind


@pytest.mark.parametrize("kind", [*TRAIN, *EVALUATE])
def test_each_stage_kinds_resolver_reads_exactly_the_switches_it_declares(kind: str) -> None:
    """Through the view a stage reads its params by: a switch read but not declared raises; one declared but not
    read would rerun the stage for nothing. So the `stages` metadata is what the resolvers use."""
    for profile in ("params.yaml", "profiles/study_as_run.yaml"):
        view = params_view(load_params(ROOT / profile), kind, declared_by(kind))
        if kind in TRAIN:
            training_code(view.study_code, kind)
        else:
            as_run_protocol(view.study_code, kind.removeprefix("evaluate_").removesuffix("_mse"))
        reads = {key for key in view_log(view).reads if key.startswith("study_code.")}
        assert reads == set(declared_by(kind)), profile


def test_the_training_setups_effects_pinned() -> None:
    corrected = load_params(ROOT / "params.yaml").study_code
    as_run = load_params(ROOT / "profiles" / "study_as_run.yaml").study_code
    assert training_code(corrected, "train_srresnet_mse") == TrainingCode(GeneratorCode(), 4.0, "bicubic", None, None,
                                                                          None)
    assert training_code(corrected, "train_srgan") == TrainingCode(GeneratorCode(), 4.0, "bicubic", FeatureCode(),
                                                                   GanCode(), "best")
    assert training_code(as_run, "train_srresnet") == TrainingCode(
        GeneratorCode(shared_bn=True, conv_bias=False), 1.0, "nearest_black", FeatureCode(True, False), None, None)
    assert training_code(as_run, "train_srgan_mse") == TrainingCode(
        GeneratorCode(shared_bn=True, conv_bias=False), 1.0, "nearest_black", None, GanCode("as_run", False), "last")
    # GeneratorCode's fields are the generator's keyword arguments (`TrainingSetup.new_generator`).
    generator = SRResNet(num_blocks=1, channels=4, **dataclasses.asdict(GeneratorCode(shared_bn=True, conv_bias=False)))
    assert generator.shared_bn and generator.head[0].bias is None


def test_only_the_stage_setups_read_the_study_code_section() -> None:
    """The training setup and the evaluation stage resolve the switches; every consumer takes what they resolved."""
    readers = set()
    for path in sorted([*(ROOT / "srgan").rglob("*.py"), *(ROOT / "stages").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Attribute) and node.attr == "study_code" for node in ast.walk(tree)):
            readers.add(path.relative_to(ROOT).as_posix())
    assert readers == {"srgan/training/setup.py", "stages/evaluate.py"}


def test_the_docs_describe_every_switch() -> None:
    table = (ROOT / "docs" / "study.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(StudyCodeParams):
        assert f"\n| `{f.name}` |" in table, f"docs/study.md has no row for study_code.{f.name}"


# ---------------------------------------------------------------- the switches' stage kinds


def test_a_switch_field_carries_its_stage_kinds_as_metadata() -> None:
    switch = _switch("train_a", "evaluate_b")
    assert dict(switch.metadata) == {"stages": ("train_a", "evaluate_b")}
    assert dict(_switch().metadata) == {"stages": ()}


def test_each_switchs_stage_kinds_pinned() -> None:
    assert {f.name: dict(f.metadata) for f in dataclasses.fields(StudyCodeParams)} == {
        "adversarial_gradient": {"stages": SRGAN_TRAIN},
        "shared_bn": {"stages": TRAIN},
        "generator_bias": {"stages": TRAIN},
        "discriminator": {"stages": SRGAN_TRAIN},
        "feature_cuts": {"stages": FEATURE_TRAIN},
        "feature_normalisation": {"stages": FEATURE_TRAIN},
        "mse_range": {"stages": TRAIN},
        "best_file": {"stages": (*SRRESNET_EVALUATE, *SRGAN_TRAIN)},
        "eval_bn_mode": {"stages": EVALUATE},
        "eval_clamp": {"stages": EVALUATE},
        "rotation": {"stages": TRAIN},
    }


def test_switch_groups_are_the_switches_by_stage_kinds_in_the_sections_order() -> None:
    assert switch_groups() == [
        ("adversarial_gradient", "discriminator"),
        ("shared_bn", "generator_bias", "mse_range", "rotation"),
        ("feature_cuts", "feature_normalisation"),
        ("best_file",),
        ("eval_bn_mode", "eval_clamp"),
    ]


def test_switch_groups_ignore_the_order_the_stage_kinds_are_listed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True)
    class Switches:
        first: bool = _switch("train_b", "train_a")
        second: bool = _switch("evaluate_a")
        third: bool = _switch("train_a", "train_b")
        fourth: bool = _switch()

    monkeypatch.setattr(study_code, "StudyCodeParams", Switches)
    assert switch_groups() == [("first", "third"), ("second",), ("fourth",)]


@pytest.mark.parametrize("kind", ["evaluate_srgan", "prepare", "train", "TRAIN_SRGAN", ""])
def test_training_code_refuses_a_kind_that_is_not_a_training_stage(kind: str) -> None:
    study = load_params(ROOT / "params.yaml").study_code
    with pytest.raises(ValueError) as info:
        training_code(study, kind)
    assert str(info.value) == f"not a training stage kind: {kind!r}"
