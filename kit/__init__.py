"""taalkit core: every pipeline stage lives here; this package never imports Textual.

Importing ``kit`` pins the process to offline behaviour before any Hugging Face
library is imported: the kit must never download weights or data at run time.
"""

import os

__version__ = "0.1.0"

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # Idle OpenMP threads spin otherwise, stealing the laptop's few cores.
    "OMP_WAIT_POLICY": "PASSIVE",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)
