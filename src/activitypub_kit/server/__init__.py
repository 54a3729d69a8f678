"""server part of activitypub_kit (see docs/)."""
