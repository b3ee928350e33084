# xlwings Server loads `custom_scripts` from XLWINGS_PROJECT_DIR: re-export the two ACV buttons
# (only the decorated entry points: the server lists every function carrying `__xlscript__`).
from udfs.scripts import generer_annexe, valider  # noqa: F401
