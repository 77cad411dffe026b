/**
 * HMR inference on Ascend 310 (or the CPU) with the MindSpore C++ API.
 *
 * Loads the exported MINDIR (static batch: export.py --export_batch_size N; with --device cpu, the
 * MindIR that convert_model made from the ONNX twin, built by MindSpore Lite), runs it on every
 * .bin input written by preprocess.py (float32 (N, 3, H, W) images; for a graph with extra inputs, such as
 * CLIFF's bbox_info (N, 3), the file of the same name in each --extra_input_paths folder, in the graph's input
 * order), writes one result file per
 * output (`<stem>_0.bin` theta, `_1` vertices, `_2` 3D joints, `_3` 2D keypoints) and the mean
 * latency to `<time_path>/test_perform_static.txt`. Every status is checked; a failure prints
 * one line and exits non-zero.
 */
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/status.h"
#include "include/api/types.h"
#include "inc/utils.h"

namespace {

int Fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::shared_ptr<mindspore::DeviceInfoContext> MakeDevice(const hmr::Flags &flags) {
  if (flags.device_target == "CPU") {
    return std::make_shared<mindspore::CPUDeviceInfo>();
  }
  if (flags.device_target == "GPU") {
    auto gpu = std::make_shared<mindspore::GPUDeviceInfo>();
    gpu->SetDeviceID(static_cast<uint32_t>(flags.device_id));
    return gpu;
  }
  auto ascend = std::make_shared<mindspore::AscendDeviceInfo>();
  ascend->SetDeviceID(static_cast<uint32_t>(flags.device_id));
  return ascend;
}

}  // namespace

int Run(const hmr::Flags &flags);

int main(int argc, char **argv) {
  hmr::Flags flags;
  std::string error;
  if (!hmr::ParseFlags(argc, argv, &flags, &error)) {
    std::fprintf(stderr, "error: %s\n%s\n", error.c_str(), hmr::Usage(argv[0]).c_str());
    return 2;
  }
  if (flags.device_target != "Ascend310" && flags.device_target != "Ascend910" && flags.device_target != "GPU" &&
      flags.device_target != "CPU") {
    return Fail("--device_target must be Ascend310, Ascend910, GPU or CPU, got " + flags.device_target);
  }
  try {
    return Run(flags);
  } catch (const std::exception &err) {  // some SDK builds throw instead of returning a Status
    return Fail(std::string("MindSpore: ") + err.what());
  }
}

int Run(const hmr::Flags &flags) {
  std::string error;
  auto context = std::make_shared<mindspore::Context>();
  context->MutableDeviceInfo().push_back(MakeDevice(flags));

  mindspore::Model model;
  mindspore::Status status;
  if (flags.device_target == "CPU") {  // MindSpore Lite: the MindIR from convert_model (Lite's converter)
    status = model.Build(flags.mindir_path, mindspore::ModelType::kMindIR, context);
    if (status != mindspore::kSuccess) {
      return Fail("cannot load " + flags.mindir_path + " with MindSpore Lite on the CPU: " + status.ToString());
    }
  } else {
    mindspore::Graph graph;
    status = mindspore::Serialization::Load(flags.mindir_path, mindspore::ModelType::kMindIR, &graph);
    if (status != mindspore::kSuccess) {
      return Fail("cannot load " + flags.mindir_path + ": " + status.ToString());
    }
    status = model.Build(mindspore::GraphCell(graph), context);
  }
  if (status != mindspore::kSuccess) {
    return Fail("cannot build the model on " + flags.device_target + " device " + std::to_string(flags.device_id) +
                ": " + status.ToString());
  }
  std::vector<mindspore::MSTensor> model_inputs = model.GetInputs();
  if (model_inputs.size() != 1 + flags.extra_input_paths.size()) {
    return Fail(flags.mindir_path + " has " + std::to_string(model_inputs.size()) + " inputs (images and " +
                std::to_string(model_inputs.size() - 1) + " more), but --extra_input_paths names " +
                std::to_string(flags.extra_input_paths.size()) + " folders (preprocess.json lists the graph's inputs)");
  }
  const std::vector<std::string> files = hmr::ListFiles(flags.input_path, ".bin");
  if (files.empty()) {
    return Fail("no .bin inputs in " + flags.input_path + " (run preprocess.py first)");
  }
  if (!hmr::MakeDirs(flags.result_path) || !hmr::MakeDirs(flags.time_path)) {
    return Fail("cannot create " + flags.result_path + " or " + flags.time_path);
  }

  std::vector<double> latencies;
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<std::vector<char>> data(model_inputs.size());
    std::vector<mindspore::MSTensor> inputs;
    for (size_t k = 0; k < model_inputs.size(); ++k) {
      const std::string path = k == 0 ? files[i] : hmr::CompanionFile(flags.extra_input_paths[k - 1], files[i]);
      if (!hmr::ReadBinaryFile(path, &data[k], &error)) {
        return Fail(error);
      }
      if (data[k].size() != model_inputs[k].DataSize()) {
        return Fail(path + " holds " + std::to_string(data[k].size()) + " bytes, the graph's input " +
                    std::to_string(k) + " needs " + std::to_string(model_inputs[k].DataSize()) +
                    " (export with the batch preprocess.py used)");
      }
      inputs.emplace_back(model_inputs[k].Name(), model_inputs[k].DataType(), model_inputs[k].Shape(),
                          data[k].data(), data[k].size());
    }
    std::vector<mindspore::MSTensor> outputs;
    for (int w = 0; i == 0 && w < flags.warmup; ++w) {
      status = model.Predict(inputs, &outputs);
      if (status != mindspore::kSuccess) {
        return Fail("warm-up prediction failed: " + status.ToString());
      }
    }
    outputs.clear();
    auto start = std::chrono::steady_clock::now();
    status = model.Predict(inputs, &outputs);
    auto stop = std::chrono::steady_clock::now();
    if (status != mindspore::kSuccess) {
      return Fail("prediction failed on " + files[i] + ": " + status.ToString());
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    for (size_t k = 0; k < outputs.size(); ++k) {
      const std::string path = hmr::ResultFileName(flags.result_path, files[i], k);
      if (!hmr::WriteBinaryFile(path, outputs[k].MutableData(), outputs[k].DataSize())) {
        return Fail("cannot write " + path);
      }
    }
  }
  const double mean = hmr::MeanMs(latencies);
  std::printf("NN inference cost average time: %.3f ms of infer_count %zu\n", mean, latencies.size());
  std::ofstream report(flags.time_path + "/test_perform_static.txt");
  report << "NN inference cost average time: " << mean << " ms of infer_count " << latencies.size() << "\n";
  if (!report) {
    return Fail("cannot write " + flags.time_path + "/test_perform_static.txt");
  }
  return 0;
}
