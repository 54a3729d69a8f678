import activitypub_kit
from activitypub_kit import errors


def test_version_is_exposed():
    assert activitypub_kit.__version__.count(".") >= 2


def test_every_error_derives_from_the_base():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ActivityPubError), name
        assert 400 <= cls.http_status < 600


def test_validation_error_names_the_property():
    err = errors.ValidationError("must be a string", path="object.content")
    assert str(err) == "object.content: must be a string"
    assert isinstance(err, ValueError)
