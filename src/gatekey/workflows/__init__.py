"""The workflow runner: steps that act on apps with fresh credentials, runs queued in the
database and claimed by any number of workers."""
