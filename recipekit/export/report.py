"""What an export wrote: per initializer, Q/DQ counts, size, and the onnxruntime check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recipekit.export.check import OutputCheck


@dataclass(frozen=True)
class InitializerReport:
    name: str
    #: The model parameter it holds (folded with a BatchNorm when ``folded_bn``), or "" for a constant.
    parameter: str
    dtype: str
    shape: tuple[int, ...]
    #: Exact zeros of the value it stands for (int8 elements equal to their zero point), and element count.
    zeros: int
    numel: int
    folded_bn: str = ""
    #: Zeros of the trained torch parameter (its pruned weights); None for buffers and constants.
    parameter_zeros: int | None = None
    #: What it is when not the parameter itself: "weight scale", "input zero_point", ...
    role: str = ""

    @property
    def sparsity(self) -> float:
        return self.zeros / self.numel if self.numel else 0.0


@dataclass
class LayerReport:
    """One quantized Conv, Linear or MatMul module: the int8 kernel onnxruntime runs it as, or why it stays float."""

    module: str
    kind: str  # "Conv", "Linear" or "MatMul" (a QATMatMul of two activations: attention's Q·Kᵀ and P·V)
    #: Its weight's scale initializer (the fused kernel reads it too); a MatMul's right operand's.
    weight_scale: str
    #: onnxruntime's int8 kernel for it ("QLinearConv", "QGemm", ...); "" when float or not checked.
    kernel: str = ""
    #: Why it is (or, before the check, will be) a float kernel: "output not quantized", "float bias", ...
    reason: str = ""

    @property
    def fused(self) -> bool:
        return bool(self.kernel)


@dataclass
class ExportReport:
    path: Path
    opset: int
    exporter: str
    quantized: bool
    int8_weights: bool
    file_size: int
    #: Activation QuantizeLinear->DequantizeLinear pairs, and weights read through a DequantizeLinear.
    activation_qdq: int
    weight_qdq: int
    initializers: list[InitializerReport] = field(default_factory=list)
    #: Conv name -> BatchNorm2d folded into it.
    folded: dict[str, str] = field(default_factory=dict)
    #: onnxruntime int8 kernels after its graph optimisation (None when the check did not run).
    fused_kernels: dict[str, int] | None = None
    outputs: list[OutputCheck] = field(default_factory=list)
    onnxruntime: str = ""
    #: Every quantized Conv/Linear module (then every quantized MatMul), fused into an int8 kernel or not (and why not).
    layers: list[LayerReport] = field(default_factory=list)
    #: The check's comparison at each activation quantizer (onnxruntime fed torch's integers upstream).
    quantizers: list[OutputCheck] = field(default_factory=list)
    #: Activation QuantizeLinears the check could not pair with a torch quantizer (onnxruntime computed them itself).
    unpaired_quantizers: int = 0

    @property
    def qdq_pairs(self) -> int:
        return self.activation_qdq + self.weight_qdq

    @property
    def checked(self) -> bool:
        return self.fused_kernels is not None

    @property
    def fused(self) -> bool:
        """Every quantized Conv/Linear/MatMul module runs as an onnxruntime int8 kernel (checked, and there is one)."""
        return self.checked and bool(self.layers) and all(layer.fused for layer in self.layers)

    @property
    def fused_layers(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.fused]

    @property
    def float_layers(self) -> dict[str, str]:
        """Module -> why it stays a float kernel, for each quantized Conv/Linear/MatMul that onnxruntime did not fuse."""
        return {layer.module: layer.reason for layer in self.layers if not layer.fused}

    def initializer(self, name: str) -> InitializerReport:
        """The initializer called ``name``, else the one holding parameter ``name``."""
        return next((i for i in self.initializers if i.name == name), None) or next(
            i for i in self.initializers if i.parameter == name and not i.role
        )

    def format(self) -> str:
        kind = "int8 QDQ" if self.quantized and self.int8_weights else "fp32 weights + QDQ" if self.quantized else "fp32"
        lines = [
            f"{self.path}: {self.file_size:,} bytes, {kind}, opset {self.opset}, {self.exporter} exporter",
            f"Q/DQ: {self.activation_qdq} activation pairs, {self.weight_qdq} dequantized weights",
        ]
        lines += [f"folded {bn} into {conv}" for conv, bn in sorted(self.folded.items())]
        lines.append(f"{'initializer':<40} {'parameter':<40} {'dtype':<8} {'sparsity':>8}")
        for init in self.initializers:
            parameter = init.parameter + (f" ({init.role})" if init.role else "") + (f" (+{init.folded_bn})" if init.folded_bn else "")
            lines.append(f"{init.name:<40} {parameter:<40} {init.dtype:<8} {init.sparsity:>8.4f}")
        if self.fused_kernels is None:
            lines.append("not checked with onnxruntime (check=False)")
        else:
            kernels = ", ".join(f"{op} x{count}" for op, count in sorted(self.fused_kernels.items())) or "none"
            lines.append(f"onnxruntime {self.onnxruntime}: int8 kernels after graph optimisation: {kernels}")
            weighted = [layer for layer in self.layers if layer.kind != "MatMul"]
            matmuls = [layer for layer in self.layers if layer.kind == "MatMul"]
            for group, what in ((weighted, "Conv/Linear"), (matmuls, "MatMul")):
                if group:
                    fused = sum(layer.fused for layer in group)
                    lines.append(f"fused: {fused} of {len(group)} quantized {what} modules run as int8 kernels")
                    lines += [f"  float: {layer.module} ({layer.reason})" for layer in group if not layer.fused]
            failed = [q for q in self.quantizers if not q.passed]
            if self.quantizers:
                lines.append(
                    f"check: onnxruntime fed torch's integers at {len(self.quantizers)} quantizers; {len(self.quantizers) - len(failed)} "
                    "give torch's integers (up to rounding ties)"
                    + (f"; {self.unpaired_quantizers} not paired" if self.unpaired_quantizers else "")
                )
            for out in self.outputs:
                bound = "1e-5" if out.step_source == "fp32" else f"{out.step:.4g} ({out.step_source})"
                free = "" if out.end_to_end is None else f" ({out.end_to_end:.2%} without torch's integers fed in)"
                lines.append(f"output {out.index}: max |ort - torch| {out.max_abs_diff:.3g}, {out.within:.2%} within {bound}{free}")
        return "\n".join(lines)
