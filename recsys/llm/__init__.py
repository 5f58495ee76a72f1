"""The language model side: base model provisioning, projector, embedding splice, LoRA, training."""
