#include "inc/utils.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

namespace fs = std::filesystem;

namespace hmr {
namespace {

bool ParseInt(const std::string &text, int *value) {
  char *end = nullptr;
  long parsed = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || parsed < 0 || parsed > 1 << 20) {
    return false;
  }
  *value = static_cast<int>(parsed);
  return true;
}

}  // namespace

std::string CompanionFile(const std::string &dir, const std::string &input_file) {
  return (fs::path(dir) / fs::path(input_file).filename()).string();
}

std::string Usage(const std::string &program) {
  std::ostringstream out;
  out << "usage: " << program << " --mindir_path=FILE --input_path=DIR [--extra_input_paths=DIR[,DIR...]]"
      << " [--result_path=DIR]"
      << " [--time_path=DIR]"
      << " [--device_id=N] [--device=ascend|cpu | --device_target=Ascend310|Ascend910|GPU|CPU]"
      << " [--warmup=N]";
  return out.str();
}

std::vector<std::string> SplitList(const std::string &value) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(value);
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

bool ParseFlags(int argc, char **argv, Flags *flags, std::string *error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      *error = "unexpected argument '" + arg + "'";
      return false;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = "flag --" + name + " needs a value";
      return false;
    }
    if (name == "mindir_path") {
      flags->mindir_path = value;
    } else if (name == "input_path" || name == "dataset_path") {
      flags->input_path = value;
    } else if (name == "extra_input_paths") {
      flags->extra_input_paths = SplitList(value);
    } else if (name == "bbox_info_path") {  // the one extra input of a CLIFF graph (the earlier spelling)
      flags->extra_input_paths = {value};
    } else if (name == "result_path") {
      flags->result_path = value;
    } else if (name == "time_path") {
      flags->time_path = value;
    } else if (name == "device_target") {
      flags->device_target = value;
    } else if (name == "device") {  // the short form of run_infer_310.sh: ascend (310) or cpu
      if (value != "ascend" && value != "cpu") {
        *error = "flag --device expects ascend or cpu, got '" + value + "'";
        return false;
      }
      flags->device_target = value == "cpu" ? "CPU" : "Ascend310";
    } else if (name == "device_id" || name == "warmup") {
      if (!ParseInt(value, name == "device_id" ? &flags->device_id : &flags->warmup)) {
        *error = "flag --" + name + " expects a non-negative integer, got '" + value + "'";
        return false;
      }
    } else {
      *error = "unknown flag --" + name;
      return false;
    }
  }
  if (flags->mindir_path.empty() || flags->input_path.empty()) {
    *error = "--mindir_path and --input_path are required";
    return false;
  }
  return true;
}

std::vector<std::string> ListFiles(const std::string &dir, const std::string &suffix) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return files;
  }
  for (const auto &entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool ReadBinaryFile(const std::string &path, std::vector<char> *data, std::string *error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::streamsize size = in.tellg();
  in.seekg(0, std::ios::beg);
  data->resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(data->data(), size)) {
    *error = "cannot read " + path;
    return false;
  }
  return true;
}

bool WriteBinaryFile(const std::string &path, const void *data, size_t size) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return false;
    }
    out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
    if (!out) {
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string ResultFileName(const std::string &result_dir, const std::string &input_file, size_t output_index) {
  const std::string stem = fs::path(input_file).stem().string();
  return (fs::path(result_dir) / (stem + "_" + std::to_string(output_index) + ".bin")).string();
}

bool MakeDirs(const std::string &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return fs::is_directory(dir, ec);
}

double MeanMs(const std::vector<double> &latencies) {
  if (latencies.empty()) {
    return 0.0;
  }
  return std::accumulate(latencies.begin(), latencies.end(), 0.0) / static_cast<double>(latencies.size());
}

}  // namespace hmr
