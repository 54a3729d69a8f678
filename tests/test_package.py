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


def test_io_parts_are_importable_from_the_root_but_only_on_use():
    import subprocess
    import sys

    code = (
        "import sys, activitypub_kit as ap;"
        "assert 'activitypub_kit.server' not in sys.modules;"
        "assert ap.Federation.__module__.startswith('activitypub_kit.server');"
        "assert ap.Page.__module__.startswith('activitypub_kit.models')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in activitypub_kit.__all__:
        assert getattr(activitypub_kit, name) is not None, name
