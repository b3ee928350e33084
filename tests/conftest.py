"""Shared by every test: the key sealing the register's blocks (`history/register_key`) is kept in
the test run's own folder, never in the home of whoever runs the suite (subprocesses inherit it)."""

import os
import tempfile

from acv_xl.history.register_key import KEY_ENV

os.environ[KEY_ENV] = os.path.join(tempfile.mkdtemp(prefix="acv-xl-cle-"), "cle-registre")
