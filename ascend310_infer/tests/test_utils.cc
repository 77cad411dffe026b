// Unit test of inc/utils.h (no MindSpore needed): bash ascend310_infer/build.sh --test-utils
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "inc/utils.h"

namespace {
int failures = 0;

void Check(bool ok, const std::string &what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}
}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hmr_utils_test_" + std::to_string(::getpid()));
  fs::create_directories(dir / "in");

  // result naming: <stem>_<index>.bin inside the result folder
  Check(hmr::ResultFileName("res", "in/hmr_000003.bin", 2) == (fs::path("res") / "hmr_000003_2.bin").string(),
        "ResultFileName");

  // binary round trip and listing (sorted, .bin only)
  const std::vector<float> values = {1.5f, -2.0f, 3.25f};
  Check(hmr::WriteBinaryFile((dir / "in" / "hmr_000001.bin").string(), values.data(), values.size() * 4), "write 1");
  Check(hmr::WriteBinaryFile((dir / "in" / "hmr_000000.bin").string(), values.data(), 4), "write 0");
  Check(hmr::WriteBinaryFile((dir / "in" / "notes.txt").string(), "x", 1), "write txt");
  const std::vector<std::string> files = hmr::ListFiles((dir / "in").string(), ".bin");
  Check(files.size() == 2 && fs::path(files[0]).filename() == "hmr_000000.bin" &&
            fs::path(files[1]).filename() == "hmr_000001.bin", "ListFiles sorted, .bin only");
  std::vector<char> data;
  std::string error;
  Check(hmr::ReadBinaryFile(files[1], &data, &error) && data.size() == 12, "ReadBinaryFile size");
  Check(reinterpret_cast<const float *>(data.data())[2] == 3.25f, "ReadBinaryFile content");
  Check(!hmr::ReadBinaryFile((dir / "missing.bin").string(), &data, &error) && error.find("missing.bin") != std::string::npos,
        "ReadBinaryFile names a missing file");
  Check(hmr::ListFiles((dir / "nowhere").string(), ".bin").empty(), "ListFiles on a missing folder");
  Check(!fs::exists(dir / "in" / "hmr_000001.bin.tmp"), "no temporary left behind");

  // flags: both spellings, defaults, errors naming the flag
  hmr::Flags flags;
  const char *argv1[] = {"main", "--mindir_path=m.mindir", "--input_path", "in", "--device_id=3"};
  Check(hmr::ParseFlags(5, const_cast<char **>(argv1), &flags, &error) && flags.mindir_path == "m.mindir" &&
            flags.input_path == "in" && flags.device_id == 3 && flags.result_path == "./result_Files",
        "ParseFlags");
  hmr::Flags cliff;
  const char *argv5[] = {"main", "--mindir_path=m", "--input_path=i", "--bbox_info_path", "b"};
  Check(hmr::ParseFlags(5, const_cast<char **>(argv5), &cliff, &error) &&
            cliff.extra_input_paths == std::vector<std::string>{"b"} && flags.extra_input_paths.empty(),
        "ParseFlags takes the bbox_info folder as the one extra input");
  hmr::Flags two;
  const char *argv_extra[] = {"main", "--mindir_path=m", "--input_path=i", "--extra_input_paths=pre/a,pre/b"};
  Check(hmr::ParseFlags(4, const_cast<char **>(argv_extra), &two, &error) &&
            two.extra_input_paths == std::vector<std::string>{"pre/a", "pre/b"},
        "ParseFlags takes a list of extra input folders in graph order");
  Check(hmr::CompanionFile("pre/bbox_info", "pre/images/hmr_000003.bin") == "pre/bbox_info/hmr_000003.bin",
        "CompanionFile");
  hmr::Flags bad;
  const char *argv2[] = {"main", "--mindir_path=m", "--input_path=i", "--device_id=x"};
  Check(!hmr::ParseFlags(4, const_cast<char **>(argv2), &bad, &error) && error.find("--device_id") != std::string::npos,
        "ParseFlags rejects a bad device id");
  hmr::Flags on_cpu;
  const char *argv6[] = {"main", "--mindir_path=m", "--input_path=i", "--device", "cpu"};
  Check(hmr::ParseFlags(5, const_cast<char **>(argv6), &on_cpu, &error) && on_cpu.device_target == "CPU",
        "ParseFlags maps --device cpu to the CPU target");
  hmr::Flags bad_device;
  const char *argv7[] = {"main", "--mindir_path=m", "--input_path=i", "--device=gpu"};
  Check(!hmr::ParseFlags(4, const_cast<char **>(argv7), &bad_device, &error) &&
            error.find("--device expects ascend or cpu") != std::string::npos,
        "ParseFlags rejects an unknown --device");
  hmr::Flags no_model;
  const char *argv3[] = {"main", "--input_path=i"};
  Check(!hmr::ParseFlags(2, const_cast<char **>(argv3), &no_model, &error), "ParseFlags needs the mindir path");
  hmr::Flags unknown;
  const char *argv4[] = {"main", "--mindir_path=m", "--input_path=i", "--colour=red"};
  Check(!hmr::ParseFlags(4, const_cast<char **>(argv4), &unknown, &error) && error == "unknown flag --colour",
        "ParseFlags names an unknown flag");

  Check(hmr::MeanMs({1.0, 2.0, 6.0}) == 3.0 && hmr::MeanMs({}) == 0.0, "MeanMs");
  fs::remove_all(dir);
  if (failures == 0) {
    std::printf("utils tests passed\n");
  }
  return failures == 0 ? 0 : 1;
}
