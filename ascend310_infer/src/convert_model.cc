/**
 * Convert an exported ONNX graph into the MindIR that the MindSpore Lite runtime of the SDK loads:
 *   convert_model INPUT.onnx OUTPUT_PREFIX   ->   OUTPUT_PREFIX.mindir
 * Needed because MindSpore 2.10 writes MindIR version 3 and Lite 2.0.0's loader reads up to
 * version 1; the ONNX twin from export.py goes through Lite's own converter instead.
 */
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "inc/lite_converter.h"

namespace {
std::vector<char> Chars(const std::string &text) { return std::vector<char>(text.begin(), text.end()); }
}  // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT.onnx OUTPUT_PREFIX (writes OUTPUT_PREFIX.mindir)\n", argv[0]);
    return 2;
  }
  const std::string onnx_path = argv[1];
  const std::string output = argv[2];
  try {
    mindspore::Converter converter(mindspore::converter::kFmkTypeOnnx, Chars(onnx_path), Chars(output), Chars(""));
    converter.SetSaveType(mindspore::kMindIR);
    mindspore::Status status = converter.Convert();
    if (status != mindspore::kSuccess) {
      std::fprintf(stderr, "error: MindSpore Lite cannot convert %s: %s\n", onnx_path.c_str(),
                   status.ToString().c_str());
      return 1;
    }
  } catch (const std::exception &err) {
    std::fprintf(stderr, "error: MindSpore Lite cannot convert %s: %s\n", onnx_path.c_str(), err.what());
    return 1;
  }
  return 0;
}
