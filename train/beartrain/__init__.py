"""beartrain: learn a bear-face embedder with metric learning (the workstation part).

Importing this package is light; torch is imported only by the modules that train.
"""

from bearagent import __version__

__all__ = ["__version__"]
