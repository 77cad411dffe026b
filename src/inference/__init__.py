"""The inference layer under the jobs: checkpoint loading, predictors for every backend, SMPL
fitting, test-time adaptation, the temporal model's runner, person detection and crops. Evaluation,
the demos, video and deployment use it; it imports no job folder."""
