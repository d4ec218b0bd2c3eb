// Kind names: PyTorch's functional names and the command-line spellings, both accepted.
#include "ops/norm_kinds.hpp"

namespace vknorm {

const KindInfo* find_kind(std::string_view name) {
  for (const KindInfo& k : kNormKinds)
    if (name == k.name || name == k.cli_name) return &k;
  return nullptr;
}

const KindInfo* find_kind(Norm id) {
  for (const KindInfo& k : kNormKinds)
    if (k.id == id) return &k;
  return nullptr;
}

std::string kind_names(bool cli, std::string_view last) {
  std::string s;
  for (size_t i = 0; i < kNormKinds.size(); ++i) {
    if (i) s += i + 1 == kNormKinds.size() ? last : ", ";
    s += cli ? kNormKinds[i].cli_name : kNormKinds[i].name;
  }
  return s;
}

Result<const KindInfo*> parse_kind(std::string_view option, std::string_view name, bool cli) {
  if (const KindInfo* k = find_kind(name)) return k;
  return Status::invalid_argument(std::string(option) + ": expected " + kind_names(cli) + ", got '" +
                                  std::string(name) + "' (" + (cli ? "PyTorch's names " : "the spellings ") +
                                  kind_names(!cli, " and ") + " work too)");
}

}  // namespace vknorm
