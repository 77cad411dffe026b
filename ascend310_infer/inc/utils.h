/**
 * Helpers of the HMR Ascend 310 runner that do not depend on MindSpore: command-line flags,
 * input listing, binary file I/O and result naming (tested by tests/test_utils.cc).
 */
#ifndef HMR_ASCEND310_INFER_INC_UTILS_H_
#define HMR_ASCEND310_INFER_INC_UTILS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace hmr {

/** Runner options, given gflags-style as --name=value or --name value. */
struct Flags {
  std::string mindir_path;          // exported HMR graph (static batch)
  std::string input_path;           // folder of preprocess.py's .bin inputs
  // one folder per graph input after the images (the architecture's extra inputs, e.g. CLIFF's
  // bbox_info), in the graph's order; each holds the .bin file of the same name as the images'
  std::vector<std::string> extra_input_paths;
  std::string result_path = "./result_Files";
  std::string time_path = "./time_Result";
  int device_id = 0;
  std::string device_target = "Ascend310";  // Ascend310 | Ascend910 | CPU | GPU
  int warmup = 1;                   // untimed runs before the timed ones
};

/** Parse argv into flags. Returns false with a message naming the bad flag. */
bool ParseFlags(int argc, char **argv, Flags *flags, std::string *error);

/** The comma-separated parts of `value` (empty parts dropped). */
std::vector<std::string> SplitList(const std::string &value);

/** Usage text listing every flag. */
std::string Usage(const std::string &program);

/** Regular files ending in `suffix` directly inside `dir`, sorted by name. Empty if `dir` is missing. */
std::vector<std::string> ListFiles(const std::string &dir, const std::string &suffix);

/** Whole file as bytes. Returns false (with a message) when it cannot be read. */
bool ReadBinaryFile(const std::string &path, std::vector<char> *data, std::string *error);

/** Write bytes to `path` via a temporary file and a rename. Returns false on failure. */
bool WriteBinaryFile(const std::string &path, const void *data, size_t size);

/** The file of the same name as `input_file` inside `dir` (a second graph input of the same batch). */
std::string CompanionFile(const std::string &dir, const std::string &input_file);

/** `<result_dir>/<stem of input_file>_<output_index>.bin`, the name postprocess.py reads. */
std::string ResultFileName(const std::string &result_dir, const std::string &input_file, size_t output_index);

/** Create a folder and its parents; true when it exists afterwards. */
bool MakeDirs(const std::string &dir);

/** Mean of latencies in milliseconds (0 for none). */
double MeanMs(const std::vector<double> &latencies);

}  // namespace hmr

#endif  // HMR_ASCEND310_INFER_INC_UTILS_H_
