"""Finding the poisons of a trained run: the detectors (`detectors`: raw, AC, SS, HC), scoring
them against the ground truth (`scoring`), running one on a run's class and saving it (`run`),
ranking the classes (`scan`), and removing what was flagged and retraining (`remediation`)."""
