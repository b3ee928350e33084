# xlwings Server loads `custom_functions` from XLWINGS_PROJECT_DIR: re-export the ACV functions.
from udfs.functions import *  # noqa: F401,F403
