"""LRP on the real small Inception network, its concatenation and BatchNorm included."""

import numpy as np
import pytest
import torch

from heatclust_core.explain.lrp import LRPOptions, explain
from heatclust_core.training.network import Classifier


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    model = Classifier(15, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    # Give every BatchNorm non-trivial statistics so the canonizer's merge is exercised.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    # Logits of order ten, as in a trained network, so relative tolerances mean something.
    model.net.fc2.weight.data.mul_(300)
    return model.eval()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("composite", ["epsilon-plus-flat", "epsilon-alpha2-beta1"])
def test_relevance_is_conserved_through_inception_and_batchnorm(network, images, composite):
    """With biases left out of the rules, input relevance sums to the explained logit.

    Tolerance held here: 5e-3 relative (1e-4 of the largest logit for a logit near zero) on
    this random network, where near-zero denominators make the stabilisers absorb some
    relevance (up to 2.9e-3 with the global-max head); on trained default networks the
    measured error is at most 3.5e-6 relative (1119 samples of the target class, 2 x 2
    average head) and 1.5e-6 (96 samples, global-max head).
    """
    classes = np.array([0, 3, 5, 7, 9, 14])
    result = explain(
        network, images, classes, torch.device("cpu"), LRPOptions(composite, ignore_bias=True)
    )
    assert result.relevance.shape == (6, 3, 32, 32)
    logits = result.explained_logits()
    with torch.no_grad():
        expected = network(torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255)
    # BatchNorm merged into the convolutions changes float32 rounding only, on the scale of
    # the largest logit (a logit near zero has the same absolute error).
    wanted = expected.numpy()[np.arange(6), classes]
    np.testing.assert_allclose(logits, wanted, rtol=1e-4, atol=1e-5 * np.abs(wanted).max())
    sums = result.relevance.reshape(6, -1).sum(1)
    np.testing.assert_allclose(sums, logits, rtol=5e-3, atol=1e-4 * np.abs(logits).max())


def test_explains_the_predicted_class_when_no_class_is_given(network, images):
    result = explain(network, images, None, torch.device("cpu"))
    assert np.array_equal(result.explained, result.logits.argmax(1))
    assert result.heatmaps().shape == (6, 32, 32)


def test_network_is_left_unchanged(network, images):
    before = {k: v.clone() for k, v in network.state_dict().items()}
    explain(network, images, None, torch.device("cpu"))
    for key, value in network.state_dict().items():
        assert torch.equal(value, before[key]), key
