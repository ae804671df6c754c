import numpy as np
import pytest


@pytest.fixture(scope="package")
def poisoned_class(two_class_backdoor):
    """The backdoored network and its class A: (model, (N, 32, 32, 3) images, (N,) bool truth)."""
    model, train_set = two_class_backdoor
    members = np.flatnonzero(train_set.data.labels == 0)
    return model, train_set.data.images[members], train_set.is_poisoned[members]
