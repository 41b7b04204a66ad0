"""A stand-in for a MiniSBD sentence splitter, with MiniSBD's exact ONNX interface, for bench/peers.py.

Run in its own environment (``onnx`` needs numpy 2, LibreTranslate pins numpy<2):

    python minisbd_standin.py LANG OUT.onnx

Inputs ``units`` (int64, batch x characters: ids from the vocabulary in the model's metadata) and ``features``
(float32, batch x characters x 2: ``space_before``, ``capitalized``); output the logits (float32, batch x
characters x 5) of MiniSBD's classes (0 inside a token, 1 token end, 2 sentence end, 3 and 4 multi-word tokens).
The graph marks a sentence end after ".", "!" and "?" and a token end before a space: a rule, where MiniSBD has a
trained network. Its cost per character is negligible next to the translation it feeds, so the comparison
measures translation work on both sides. Metadata: ``lang_code``, ``config``, ``vocab``, ``lexicon``, as MiniSBD
reads them.
"""

from __future__ import annotations

import json
import string
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(lang: str, out: str) -> None:
    units = ["<PAD>", "<UNK>", *(c for c in string.printable if c not in "\r\x0b\x0c")]
    vocab = {"lang": lang, "idx": 0, "cutoff": 0, "lower": False,
             "_unit2id": {u: i for i, u in enumerate(units)}, "_id2unit": units}
    ends = np.array([units.index(c) for c in ".!?"], dtype=np.int64).reshape(1, 1, 3)
    space = np.array([units.index(" ")], dtype=np.int64)
    inits = [numpy_helper.from_array(ends, "ends"), numpy_helper.from_array(space, "space"),
             numpy_helper.from_array(np.array([0, 0, 2, 0, 0], dtype=np.float32), "sentence_w"),
             numpy_helper.from_array(np.array([0, 1, 0, 0, 0], dtype=np.float32), "token_w"),
             numpy_helper.from_array(np.array([0.5, 0, 0, 0, 0], dtype=np.float32), "bias"),
             numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.array([0.0], dtype=np.float32), "zero")]
    nodes = [
        helper.make_node("Unsqueeze", ["units", "axis2"], ["units3"]),
        helper.make_node("Equal", ["units3", "ends"], ["is_end3"]),  # batch x chars x 3
        helper.make_node("Cast", ["is_end3"], ["end3f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["end3f", "axis2"], ["is_end"], keepdims=1),  # batch x chars x 1
        helper.make_node("Equal", ["units3", "space"], ["is_space"]),
        helper.make_node("Cast", ["is_space"], ["spacef"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["is_end", "sentence_w"], ["end_logits"]),
        helper.make_node("Mul", ["spacef", "token_w"], ["space_logits"]),
        helper.make_node("Add", ["end_logits", "space_logits"], ["raw"]),
        helper.make_node("Add", ["raw", "bias"], ["biased"]),
        # the features take part (as MiniSBD's network uses them), with no weight on the result
        helper.make_node("ReduceSum", ["features", "axis2"], ["feat_sum"], keepdims=1),
        helper.make_node("Mul", ["feat_sum", "zero"], ["feat_zero"]),
        helper.make_node("Add", ["biased", "feat_zero"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "minisbd_standin",
        [helper.make_tensor_value_info("units", TensorProto.INT64, ["batch", "chars"]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", "chars", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "chars", 5])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="asean-mt-bench")
    model.ir_version = 8  # readable by every onnxruntime of the last years
    config = {"skip_newline": False, "max_seqlen": 1000, "no_ssplit": False, "batch_size": 32,
              "feat_funcs": ["space_before", "capitalized"], "use_dictionary": False, "num_dict_feat": 0}
    for key, value in {"lang_code": lang, "config": json.dumps(config), "vocab": json.dumps(vocab),
                       "lexicon": "null"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
