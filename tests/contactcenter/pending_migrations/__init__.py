"""contactcenter's migrations plus one the test database has not applied (test_health): the
package's path also lists contactcenter/migrations, which Django's loader reads like its own."""

import contactcenter.migrations

__path__.extend(contactcenter.migrations.__path__)  # noqa: F821 - a package's own __path__
