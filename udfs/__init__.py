"""The Excel side of acv-xl (xlwings): functions, buttons, the xlwings Server project.

The only package that imports xlwings; it holds no business logic (see `acv_xl`)."""
