"""Store Assistant: answers store staff's product questions, and measures which strategy does it best.

Importing the package makes every library it uses offline by construction: no price-list fetch
(litellm), no model-hub lookups (Hugging Face), no analytics (ragas). These must be set before
those libraries are first imported, which is why they live here and not in the modules that use them.
"""

import os

for _name, _value in {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm otherwise downloads a price list on import
    "HF_HUB_OFFLINE": "1",  # weights come from installed packages, never from a hub
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAGAS_DO_NOT_TRACK": "true",  # ragas otherwise sends ~10 analytics requests per evaluation
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
