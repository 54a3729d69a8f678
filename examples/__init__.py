"""Examples built on activitypub_kit (run them with ``python -m examples.NAME``)."""
