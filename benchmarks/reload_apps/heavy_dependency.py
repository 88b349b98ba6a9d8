"""Stands for a slow-importing installed package (a machine-learning or cloud SDK): 2 s at import.

It lives outside the app's directory, as site-packages does, so a warm
reloader imports it once per session and a cold one once per reload.
"""

import time

IMPORT_COST_S = 2.0
time.sleep(IMPORT_COST_S)

NAME = b"heavy"
