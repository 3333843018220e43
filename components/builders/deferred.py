"""The one type builders give to values the deploying program may resolve later.

A builder only places such a value (an environment entry, a file's content); it never reads it. The
program passes a str or a Pulumi Output in its place, and builders import no Pulumi to accept one.
"""

from typing import Any

Deferred = Any  # a str, or a pulumi.Output[str] the engine resolves
