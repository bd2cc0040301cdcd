"""Application handlers: one per job type, each taking its ports as arguments."""
