"""semcom-ota: an over-the-air prototype for semantic communication driven by large AI models.

Layers (imports flow one way): ``cli -> link/eval/train -> semantic, phy -> channel, data``;
the shared contracts (:mod:`semcom_ota.frames`), configuration (:mod:`semcom_ota.config`),
seeding, progress bars and result rows sit below all of them.
"""

__version__ = "0.1.0"
