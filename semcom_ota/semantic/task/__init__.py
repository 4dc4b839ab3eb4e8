"""Task-oriented semantic codec for Fashion-MNIST (issue 8): a lightweight student distilled from a
large teacher via pre-stored compressed teacher outputs, an information-bottleneck rate term and an
SNR-adaptive (FiLM) JSC layer trained through the channel twin with tier truncation.

Importing this package registers the codecs ``task-fmnist`` (codec_id 1) and ``teacher-jscc`` (2).
"""

from semcom_ota.semantic.task.codec import TaskCard, TaskCodec, TeacherJSCCCodec, load_system
from semcom_ota.semantic.task.nets import CLASS_NAMES, N_SYMBOLS, TIERS, TaskSystem, TeacherNet
from semcom_ota.semantic.task.store import TeacherStore

__all__ = ["CLASS_NAMES", "N_SYMBOLS", "TIERS", "TaskCard", "TaskCodec", "TaskSystem", "TeacherJSCCCodec",
           "TeacherNet", "TeacherStore", "load_system"]
