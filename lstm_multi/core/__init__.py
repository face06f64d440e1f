"""Framework-neutral pieces: data, vocabulary, Module/Trainer, sampling, checkpoints, plots."""
