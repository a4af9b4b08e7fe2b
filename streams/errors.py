"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with configuration or environment that the user can fix.

    The message must say what is wrong and, where possible, what to do about it.
    """

    exit_code = 2


class ConfigError(UserError):
    """A setting has a value the program cannot use."""


class BrokerUnavailable(UserError):
    """The Kafka broker cannot be reached."""


class WarehouseError(UserError):
    """The ClickHouse warehouse cannot be opened or rejected a statement."""
