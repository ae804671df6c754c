import numpy as np
import pytest
import torch

from heatclust_core.config import AugmentConfig, TrainConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.training.loop import (
    autocast_dtype,
    evaluate_loss,
    fgsm_examples,
    train_classifier,
)
from heatclust_core.training.network import Classifier, pick_device


def _two_colour_set(n=64, seed=0):
    """Class 0 dark, class 1 bright: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    images = np.where(labels[:, None, None, None] == 1, 200, 40) + rng.integers(
        -20, 20, (n, 32, 32, 3)
    )
    return ImageSet(images.clip(0, 255).astype(np.uint8), labels)


@pytest.mark.parametrize(("precision", "head_pool"), [("mixed", "average"), ("float32", "max")])
def test_training_learns_a_simple_task_and_keeps_history(precision, head_pool):
    train, val = _two_colour_set(96, 0), _two_colour_set(32, 1)
    config = TrainConfig(
        epochs=3,
        batch_size=16,
        lr=3e-3,
        augment=AugmentConfig(random_grayscale=False),
        precision=precision,
        head_pool=head_pool,
    )
    result = train_classifier(train, val, 2, config, pick_device("cpu"))
    assert result.model.head_pool == head_pool
    expected = autocast_dtype(torch.device("cpu"), precision) or torch.float32
    assert result.precision == str(expected).removeprefix("torch.")
    assert next(result.model.parameters()).dtype == torch.float32  # weights stay float32
    assert len(result.history) == 3
    assert evaluate_loss(result.model, val, pick_device("cpu"))[1] == 1.0
    assert 1 <= result.best_epoch <= 3


@pytest.mark.slow
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    train, val = _two_colour_set(32, 0), _two_colour_set(16, 1)
    # Validation labels swapped: the better the network learns, the worse its validation loss.
    # (A tiny learning rate did not keep it flat: BatchNorm's running statistics still move.)
    val = ImageSet(val.images, 1 - val.labels)
    config = TrainConfig(epochs=30, patience=2, batch_size=16, lr=3e-3)
    result = train_classifier(train, val, 2, config, pick_device("cpu"))
    assert result.stopped_early
    assert len(result.history) < 30
    assert len(result.history) - result.best_epoch == 2


def test_training_is_reproducible_with_a_seed():
    train, val = _two_colour_set(32, 0), _two_colour_set(16, 1)
    config = TrainConfig(epochs=1, batch_size=16, seed=5)
    a = train_classifier(train, val, 2, config, pick_device("cpu"))
    b = train_classifier(train, val, 2, config, pick_device("cpu"))
    assert a.history == b.history


def test_mixed_precision_is_bfloat16_on_cpus_that_have_it_and_float32_is_never_lowered():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "float32") is None
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert autocast_dtype(cpu, "mixed") == (torch.bfloat16 if native else None)


def test_fgsm_examples_stay_in_the_ball_and_raise_the_loss():
    torch.manual_seed(0)
    model = Classifier(2).eval()
    x = torch.rand(8, 3, 32, 32)
    y = torch.randint(0, 2, (8,))
    eps = 0.03
    adversarial = fgsm_examples(model, x, y, eps, torch.device("cpu"), None)
    assert (adversarial - x).abs().max() <= eps + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model(adversarial), y) > loss(model(x), y)


def test_adversarial_training_is_reproducible_and_differs_from_standard():
    train, val = _two_colour_set(32, 0), _two_colour_set(16, 1)
    robust = TrainConfig(epochs=1, batch_size=16, adversarial_eps=0.03)
    a = train_classifier(train, val, 2, robust, pick_device("cpu"))
    b = train_classifier(train, val, 2, robust, pick_device("cpu"))
    standard = train_classifier(
        train, val, 2, robust.model_copy(update={"adversarial_eps": 0.0}), pick_device("cpu")
    )
    assert a.history == b.history
    assert a.history != standard.history
