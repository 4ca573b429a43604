"""The root of bearid's user-facing exceptions.

Every error a user can cause (a bad file, a wrong model, a typo in a config) is a
subclass of `BearIdError` whose message says what went wrong and how to fix it;
the command-line layers print it as a one-line ``Error: ...``.
"""


class BearIdError(Exception):
    """An error caused by input or environment, with a message meant for the user."""
