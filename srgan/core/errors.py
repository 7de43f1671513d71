"""The one exception type for problems a user can fix."""


class SrganError(Exception):
    """A user-fixable problem: bad params, missing or unreadable input, unknown names.

    The message is one sentence naming the thing (file, key, URL) and the fix.
    Caught only by `srgan.cli` and the stage scripts, which print it and exit 1.
    """
