/**
 * The part of MindSpore Lite 2.0's C++ converter API (class mindspore::Converter, exported by
 * lib/libmindspore_converter.so) that convert_model.cc uses. The mindspore-lite wheel ships the
 * library but not this header, so it is declared here against the library's exported symbols
 * (`nm -DC --defined-only libmindspore_converter.so | grep mindspore::Converter::`). The string
 * arguments go through std::vector<char> as in the SDK's dual-ABI headers.
 */
#ifndef HMR_ASCEND310_INFER_INC_LITE_CONVERTER_H_
#define HMR_ASCEND310_INFER_INC_LITE_CONVERTER_H_

#include <memory>
#include <vector>

#include "include/api/status.h"
#include "include/api/types.h"
#include "include/registry/converter_context.h"

namespace mindspore {
struct ConverterPara;

class Converter {
 public:
  Converter(converter::FmkType fmk_type, const std::vector<char> &model_file, const std::vector<char> &output_file,
            const std::vector<char> &weight_file);
  ~Converter() = default;
  void SetSaveType(ModelType save_type);
  void SetOptimizeTransformer(bool optimize);
  Status Convert();

 private:
  std::shared_ptr<ConverterPara> data_;
};
}  // namespace mindspore

#endif  // HMR_ASCEND310_INFER_INC_LITE_CONVERTER_H_
