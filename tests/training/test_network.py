import torch

from heatclust_core.training.network import (
    Classifier,
    InceptionA,
    count_parameters,
    images_to_tensor,
)


def test_the_default_head_has_half_the_parameters_of_a_two_by_two_one():
    n = count_parameters(Classifier(43))
    assert 400_000 <= n <= 500_000, n  # global max: the head reads 256 channels
    assert 900_000 <= count_parameters(Classifier(43, head_pool="average")) <= 1_000_000


def test_shapes_of_logits_and_hidden_features():
    model = Classifier(15).eval()
    x = torch.rand(4, 3, 32, 32)
    assert model(x).shape == (4, 15)
    assert model.net.features(model.normalize(x)).shape == (4, 640)


def test_the_max_head_keeps_a_small_response_whole_where_the_average_head_spreads_it():
    average, peak = Classifier(3, head_pool="average").eval(), Classifier(3, head_pool="max")
    peak.load_state_dict(average.state_dict())  # the pooling has no weights
    peak.eval()
    fmap = torch.zeros(1, 1, 8, 8)
    fmap[0, 0, 5, 5] = 16.0  # one cell of the lower-right 4 x 4 quadrant
    assert average.net.head_pool(fmap)[0, 0].tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert peak.net.head_pool(fmap)[0, 0].tolist() == [[0.0, 0.0], [0.0, 16.0]]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert peak(x).shape == (2, 3) and not torch.allclose(peak(x), average(x))


def _logits_of_one_response_per_quadrant(model: Classifier) -> list[torch.Tensor]:
    """The head's logits for the same response placed in each quadrant of the 8 x 8 map."""
    logits = []
    for row, col in ((1, 1), (1, 6), (6, 1), (6, 6)):
        fmap = torch.zeros(1, model.net.inception.out_channels, 8, 8)
        fmap[0, :, row, col] = torch.linspace(0.1, 2.0, fmap.shape[1])
        with torch.no_grad():
            hidden = model.net.relu(model.net.fc1(model.net.flatten(model.net.head_pool(fmap))))
            logits.append(model.net.fc2(hidden))
    return logits


def test_the_global_max_head_reads_a_response_the_same_in_every_quadrant():
    """A 2 x 2 head feeds each quadrant to its own weights; global max pools to one cell, so
    the same response anywhere in the map gives the same logits."""
    torch.manual_seed(0)
    model = Classifier(3, head_pool="global-max").eval()
    assert model.head_pool == "global-max"
    assert model.net.fc1.in_features == model.net.inception.out_channels
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    first, *others = _logits_of_one_response_per_quadrant(model)
    assert all(torch.equal(first, other) for other in others)
    two_by_two = Classifier(3, head_pool="max").eval()
    assert two_by_two.net.fc1.in_features == 4 * two_by_two.net.inception.out_channels
    first, *others = _logits_of_one_response_per_quadrant(two_by_two)
    assert not any(torch.allclose(first, other) for other in others)


def test_inception_module_concatenates_its_four_branches():
    module = InceptionA(64).eval()
    out = module(torch.rand(2, 64, 8, 8))
    assert out.shape == (2, module.out_channels, 8, 8) and module.out_channels == 256


def test_normalisation_uses_the_stored_statistics():
    model = Classifier(3, mean=(0.5, 0.25, 0.0), std=(0.5, 0.5, 2.0))
    x = torch.ones(1, 3, 2, 2)
    normalised = model.normalize(x)
    assert torch.allclose(normalised[0, :, 0, 0], torch.tensor([1.0, 1.5, 0.5]))


def test_images_to_tensor_scales_uint8_to_unit_range():
    import numpy as np

    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    images[0, 0, 0] = [255, 0, 51]
    tensor = images_to_tensor(images)
    assert tensor.shape == (2, 3, 32, 32)
    assert torch.allclose(tensor[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.2]))


def test_dense_head_stays_float32_under_bfloat16_autocast():
    """Only the convolutions run in bfloat16: logits of ~20 would otherwise be rounded to
    steps of 0.125, and the features Activation Clustering reads to 3 significant digits."""
    model = Classifier(5).eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        trunk = model.net.stem[0](model.normalize(x))
        features = model.net.features(model.normalize(x))
        logits = model(x)
    assert trunk.dtype == torch.bfloat16  # autocast does reach the convolutions
    assert features.dtype == torch.float32 and logits.dtype == torch.float32
