"""What the reports compute, as tested library functions.

Each report notebook in ``notebooks/`` is narration, calls and plots; the numbers it shows come
from the module here named after it (``salessim.analysis.crm_calibration`` for
``crm_calibration.ipynb``, and so on). The functions take simulation results, scenarios or a CRM
table and return tables (``pandas.DataFrame``) or small dataclasses; none of them displays
anything, so an analyst can call them from any notebook or script. Formatting and display helpers
shared by the notebooks are in ``salessim.notebook_helpers``.
"""
