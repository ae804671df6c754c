"""Spectral Signatures: scores, the flagged share, and the poisons of a trained network."""

import numpy as np
import pytest

from heatclust_core.detection.detectors import SpectralSignature
from heatclust_core.detection.detectors.spectral import SS_MULTIPLIER, flag_highest, spectral_scores
from heatclust_core.errors import ConfigError
from heatclust_core.training.network import Classifier


def test_scores_are_squared_projections_on_the_top_singular_vector_of_the_centred_rows():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5
    features = 5 + rng.normal(size=(50, 3)) * 0.1 + rng.normal(size=(50, 1)) * 2 * direction
    scores, picture = spectral_scores(features)
    centred = features - features.mean(axis=0)
    top = np.linalg.svd(centred)[2][0]
    assert abs(top @ direction) == pytest.approx(1.0, abs=0.01)
    assert np.allclose(scores, (centred @ top) ** 2)
    assert np.allclose(picture[:, 0] ** 2, scores) and picture.shape == (50, 2)


def test_flag_highest_takes_the_share_of_highest_scores():
    scores = np.array([0.1, 5.0, 0.3, 4.0, 0.2, 0.0])
    assert flag_highest(scores, 0.5).tolist() == [False, True, True, True, False, False]
    assert flag_highest(scores, 1.0).all() and not flag_highest(scores, 0.0).any()


def test_spectral_signature_flags_mostly_poisons_on_a_trained_network(poisoned_class):
    model, images, truth = poisoned_class
    detector = SpectralSignature(model, expected_share=0.2).fit(images, np.zeros(len(images)))
    flagged = detector.predict()
    assert flagged.sum() == round(SS_MULTIPLIER * 0.2 * len(images))
    # The poisons lie on one side of the top direction (25 % of the class here, above the small
    # share Tran et al. assume, so the clean tail on the other side scores high too): among
    # the 48 flagged samples they are twice as frequent as in the class.
    assert truth[flagged].mean() >= 2 * truth.mean()
    assert detector.flagged_clusters_ == [1] and np.array_equal(detector.labels_ == 1, flagged)
    assert detector.embedding_.shape == (len(images), 2)
    assert set(detector.seconds_) == {"features", "clustering"}


@pytest.mark.parametrize("share", [0.0, 0.7])
def test_spectral_signature_refuses_a_share_it_cannot_flag(share):
    with pytest.raises(ConfigError) as error:
        SpectralSignature(Classifier(2), expected_share=share)
    assert error.value.parameter == "expected_share"
