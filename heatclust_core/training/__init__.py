"""The attacked network and how it learns: the small Inception network (`network`), its
training loop with early stopping (`loop`) and the training-time augmentation (`augment`)."""
