"""Export a trained (pruned, quantization-aware-trained) model to ONNX: ``to_onnx``.

    report = recipekit.export.to_onnx(model, example_inputs, "model.onnx", runner=runner)

Needs torch and the ``onnx`` extra (onnx, onnxscript, onnxruntime); those three are imported
only when an export runs. See docs/export.md.
"""

from recipekit.export.onnx_export import DEFAULT_OPSET, to_onnx, torch_outputs
from recipekit.export.prepare import ExportError
from recipekit.export.report import ExportReport, InitializerReport

__all__ = ["DEFAULT_OPSET", "ExportError", "ExportReport", "InitializerReport", "to_onnx", "torch_outputs"]
