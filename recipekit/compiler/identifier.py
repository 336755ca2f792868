"""SparseML's ``Modifier.identifier()``: the last tie-break of the manager's modifier order.

SparseML sorts modifiers by end epoch, start epoch, then ``identifier()`` (``sparseml/optim/
modifier.py``): the class name, a dash, and the md5 hex digest of
``str(sorted(f"{key}:{value}" for key, value in props(only_serializable=True, format_str=True).items()))``,
where ``props`` are the class's serializable ModifierProps with their effective values, ``None``
values left out (their ``no_serialize_val``) and every other value formatted with ``str()``.
Two modifiers on the same tensors and the same epochs therefore run in md5 order, not file order.
"""

from __future__ import annotations

import hashlib
from typing import Any

from recipekit.ir import Modifier

#: The serializable ModifierProps of each SparseML 1.8.0 modifier class (read from SparseML).
SERIALIZABLE: dict[str, tuple[str, ...]] = {
    "ACDCPruningModifier": (
        "compression_sparsity",
        "end_epoch",
        "global_sparsity",
        "leave_enabled",
        "mask_type",
        "momentum_buffer_reset",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "ASRegModifier": ("alpha", "end_epoch", "layer_normalized", "layers", "reg_func", "reg_tens", "start_epoch"),
    "ConstantPruningModifier": ("end_epoch", "params", "start_epoch", "update_frequency"),
    "DistillationModifier": (
        "distill_output_keys",
        "end_epoch",
        "hardness",
        "start_epoch",
        "teacher_input_keys",
        "temperature",
        "update_frequency",
    ),
    "EpochRangeModifier": ("end_epoch", "start_epoch"),
    "GMPruningModifier": (
        "end_epoch",
        "final_sparsity",
        "global_sparsity",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "GlobalMagnitudePruningModifier": (
        "end_epoch",
        "final_sparsity",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "GradualParamModifier": (
        "end_epoch",
        "final_val",
        "init_val",
        "inter_func",
        "params",
        "params_strict",
        "start_epoch",
        "update_frequency",
    ),
    "LayerPruningModifier": ("end_epoch", "layers", "start_epoch", "update_frequency"),
    "LayerThinningModifier": ("end_epoch", "param_group_dependency_map", "start_epoch", "strict", "structure_type", "update_epochs"),
    "LearningRateFunctionModifier": (
        "cycle_epochs",
        "end_epoch",
        "final_lr",
        "init_lr",
        "lr_func",
        "param_groups",
        "start_epoch",
        "update_frequency",
    ),
    "LearningRateModifier": ("constant_logging", "end_epoch", "init_lr", "lr_class", "lr_kwargs", "start_epoch", "update_frequency"),
    "LegacyQuantizationModifier": (
        "activation_bits",
        "activation_qconfig_kwargs",
        "custom_quantizable_module_types",
        "disable_quantization_observer_epoch",
        "end_epoch",
        "exclude_batchnorm",
        "exclude_module_types",
        "freeze_bn_stats_epoch",
        "model_fuse_fn_name",
        "num_calibration_steps",
        "quantize_conv_activations",
        "quantize_embedding_activations",
        "quantize_embeddings",
        "quantize_linear_activations",
        "reduce_range",
        "start_epoch",
        "submodules",
        "tensorrt",
        "weight_bits",
        "weight_qconfig_kwargs",
    ),
    "MFACPruningModifier": (
        "available_devices",
        "damp",
        "end_epoch",
        "final_sparsity",
        "fisher_block_size",
        "global_sparsity",
        "grad_sampler_kwargs",
        "grads_device",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "num_grads",
        "num_pages",
        "params",
        "start_epoch",
        "update_frequency",
        "use_gradient_buffering",
    ),
    "MagnitudePruningModifier": (
        "end_epoch",
        "final_sparsity",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "MovementPruningModifier": (
        "end_epoch",
        "final_sparsity",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "OBSPruningModifier": (
        "damp",
        "end_epoch",
        "final_sparsity",
        "fisher_block_size",
        "global_sparsity",
        "grad_sampler_kwargs",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "num_grads",
        "num_recomputations",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "PerLayerDistillationModifier": (
        "distill_output_keys",
        "end_epoch",
        "epsilon",
        "gain",
        "normalize",
        "project_features",
        "start_epoch",
        "student_layer_names",
        "teacher_input_keys",
        "teacher_layer_names",
        "update_frequency",
    ),
    "PowerpropagationModifier": ("alpha", "end_epoch", "params", "start_epoch"),
    "QuantizationModifier": (
        "disable_quantization_observer_epoch",
        "end_epoch",
        "freeze_bn_stats_epoch",
        "ignore",
        "model_fuse_fn_kwargs",
        "model_fuse_fn_name",
        "num_calibration_steps",
        "scheme",
        "scheme_overrides",
        "start_epoch",
        "strict",
    ),
    "RigLPruningModifier": (
        "end_epoch",
        "final_sparsity",
        "global_sparsity",
        "grad_sampler_kwargs",
        "init_update_fraction",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "momentum_buffer_reset",
        "num_grads",
        "params",
        "sparsity_strategy",
        "start_epoch",
        "update_frequency",
    ),
    "SetLearningRateModifier": ("constant_logging", "end_epoch", "learning_rate", "param_groups", "start_epoch"),
    "SetParamModifier": ("end_epoch", "params", "params_strict", "start_epoch", "val"),
    "SetWeightDecayModifier": ("constant_logging", "end_epoch", "param_groups", "start_epoch", "weight_decay"),
    "SparsificationLoggingModifier": ("end_epoch", "start_epoch", "update_frequency"),
    "StructuredPruningModifier": (
        "end_epoch",
        "final_sparsity",
        "init_sparsity",
        "inter_func",
        "leave_enabled",
        "mask_type",
        "param_groups",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "TopKASTPruningModifier": (
        "active_weight_decay",
        "backward_sparsity",
        "end_epoch",
        "forward_sparsity",
        "global_sparsity",
        "leave_enabled",
        "mask_type",
        "params",
        "start_epoch",
        "update_frequency",
    ),
    "TrainableParamsModifier": ("end_epoch", "params", "params_strict", "start_epoch", "trainable"),
}


def _props(modifier: Modifier) -> dict[str, Any] | None:
    legacy = modifier.type == "QuantizationModifier" and modifier.flavour == "legacy"
    names = SERIALIZABLE.get("LegacyQuantizationModifier" if legacy else modifier.type)
    if names is None:
        return None
    return {name: modifier.params[name].value for name in names if name in modifier.params}


def identifier(modifier: Modifier) -> str | None:
    """``Class-md5`` as SparseML's ``identifier()`` computes it, or None for a class it does not know."""
    props = _props(modifier)
    if props is None:
        return None
    entries = sorted(f"{key}:{value}" for key, value in props.items() if value is not None)
    return f"{modifier.type}-{hashlib.md5(str(entries).encode()).hexdigest()}"
