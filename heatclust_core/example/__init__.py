"""The shipped example: a finished analysis the app shows before anything is trained.

The default attack's run with every detector (HC with its MDS picture), the class scan and
the target class's five embeddings (the explorer's), and two sweeps: the standard attack over p and the amplitude attack over amp, so that Compare's
live tuning works at once. It is built from the current defaults (`python -m heatclust_core
example --rebuild`), deterministically, in a scratch run store; then what the app draws is
copied into example/ (read-only to the app; new runs go to models/):

    example/manifest.json         what was built, when, how long it took, with which code
    example/models/RUN/           the default run: weights, config, metrics, detections,
                                  scans, embeddings, and its training set with the target class's
                                  images only (the pool's images do not compress)
    example/models/CELL/          a sweep cell: config, metrics and detections only
    example/models/sweeps/*.json  the sweep records

`check.check_example` proves the shipped files are what the code produces: the weights give the
stored rates on the regenerated data, the stored ground truth is the attack's, every stored
detection's rates follow from its labels, and the ids are those of the current defaults.
"""
