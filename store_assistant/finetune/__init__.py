"""Fine-tuning: LoRA training on CPU (`train`), export to a GGUF adapter (`export`) and the registry
of tuned models the gateway serves as `local/<name>` (`registry`).

torch, peft, transformers and gguf are imported only by `train` and `export`, so the app and the
registry never pay for them.
"""
