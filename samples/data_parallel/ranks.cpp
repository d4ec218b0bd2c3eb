#include "ranks.hpp"

#include <cstdint>
#include <cstdio>

namespace dp {

cnn::Batch shard(const cnn::Batch& global, int rank, int world) {
  const int n = global.n / world, first = rank * n;
  cnn::Batch b;
  b.n = n;
  b.x.assign(global.x.begin() + size_t(first) * cnn::kPlane, global.x.begin() + size_t(first + n) * cnn::kPlane);
  b.label.assign(global.label.begin() + first, global.label.begin() + first + n);
  return b;
}

vknorm::Status average_gradients(vknorm::Communicator& comm, cnn::Grads& g) {
  std::vector<std::vector<float>*> tensors = {&g.w1, &g.w2, &g.lin_w, &g.lin_b};
  for (int l = 0; l < 3; ++l) {
    tensors.push_back(&g.gamma[l]);
    tensors.push_back(&g.beta[l]);
  }
  std::vector<float> flat;
  for (const auto* t : tensors) flat.insert(flat.end(), t->begin(), t->end());
  VKNORM_TRY(vknorm::all_reduce_sum(comm, flat.data(), flat.size()));
  size_t at = 0;
  for (auto* t : tensors)
    for (float& v : *t) v = flat[at++] / static_cast<float>(comm.size());
  return {};
}

double average(vknorm::Communicator& comm, double value) {
  std::vector<double> all(comm.size());
  if (!comm.all_gather(&value, sizeof value, all.data())) return value;
  double sum = 0.0;
  for (double v : all) sum += v;
  return sum / comm.size();
}

std::vector<float> gather(vknorm::Communicator& comm, const std::vector<float>& values) {
  std::vector<float> all(values.size() * comm.size());
  if (!comm.all_gather(values.data(), values.size() * 4, all.data())) all.clear();
  return all;
}

void Printer::append(const char* format, va_list args) {
  char buffer[1024];
  std::vsnprintf(buffer, sizeof buffer, format, args);
  text_ += buffer;
  text_ += '\n';
}

void Printer::line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  append(format, args);
  va_end(args);
}

void Printer::rank_line(const char* format, ...) {
  text_ += "[rank " + std::to_string(comm_.rank()) + "] ";
  va_list args;
  va_start(args, format);
  append(format, args);
  va_end(args);
}

void Printer::flush() {
  // The lengths first, then every rank's text padded to the longest.
  const uint64_t length = text_.size();
  std::vector<uint64_t> lengths(comm_.size());
  if (!comm_.all_gather(&length, sizeof length, lengths.data())) return;
  uint64_t longest = 0;
  for (uint64_t l : lengths) longest = std::max(longest, l);
  std::string padded = text_;
  padded.resize(longest);
  std::string all(longest * comm_.size(), '\0');
  if (longest > 0 && !comm_.all_gather(padded.data(), longest, all.data())) return;
  if (comm_.rank() == 0) {
    for (int r = 0; r < comm_.size(); ++r) std::fwrite(all.data() + r * longest, 1, lengths[r], stdout);
    std::fflush(stdout);
  }
  text_.clear();
}

}  // namespace dp
