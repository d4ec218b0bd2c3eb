// `vknorm run --sync-shards`: the batch split along N into shards, each run by its own rank
// (SyncBatchNorm), the shards' outputs put back together as the plain run writes them.
#include "run_sync.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <tuple>
#include <memory>
#include <thread>

#include "vknorm/communicator.hpp"
#include "vknorm/sync_batchnorm.hpp"

namespace vknorm::cli {

Result<std::vector<int64_t>> parse_sync_shards(const std::string& text, int64_t batch) {
  std::vector<int64_t> shards;
  int64_t sum = 0;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool digits = !item.empty() && item.size() <= 12 && item.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      return Status::invalid_argument("--sync-shards: expected comma-separated shard sizes (integers >= 0, e.g. 3,0,5), got '" +
                                      text + "'");
    shards.push_back(std::stoll(item));
    sum += shards.back();
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (sum != batch)
    return Status::invalid_argument("--sync-shards: the shard sizes sum to " + std::to_string(sum) +
                                    ", expected the batch size N = " + std::to_string(batch) + " of --x");
  return shards;
}

Status check_sync_comm(const std::string& comm) {
  if (comm == "threads") return {};
  if (comm == "mpi") {
#ifdef VKNORM_CLI_MPI
    return {};
#else
    return run_sync_batch_norm_mpi({}).status();
#endif
  }
  return Status::invalid_argument("--comm: expected threads or mpi, got '" + comm + "'");
}

namespace detail {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // memcmp needs valid pointers even for 0 bytes, and an empty vector's data() may be null.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The sum over ranks, in rank order in double, rounded once.
std::vector<float> sum_over(const std::vector<Rank>& ranks, std::vector<float> NormBackwardResult::*member) {
  std::vector<double> sum;
  for (const Rank& r : ranks) {
    const std::vector<float>& part = r.backward.*member;
    sum.resize(std::max(sum.size(), part.size()), 0.0);
    for (size_t i = 0; i < part.size(); ++i) sum[i] += part[i];
  }
  return std::vector<float>(sum.begin(), sum.end());
}

}  // namespace

void run_rank(Rank& rank, Communicator& comm, const SyncRunInputs& in) {
  const uint64_t merged_count = in.x->size() / static_cast<uint64_t>(in.params.shape[1]);
  auto f = sync_batch_norm_forward(*rank.context, comm, rank.params, rank.x, *in.weight, *in.bias, rank.running_mean,
                                   rank.running_var);
  if (!f) {
    rank.error = f.status().message();
    return;
  }
  rank.forward = std::move(f.value());
  if (!in.dy) return;
  auto b = sync_batch_norm_backward(*rank.context, comm, rank.params, rank.x, rank.dy, *in.weight,
                                    rank.forward.save_mean, rank.forward.save_invstd, merged_count);
  if (b) rank.backward = std::move(b.value());
  else rank.error = b.status().message();
}

Status prepare_rank(const SyncRunInputs& in, int r, Rank& rank) {
  const int64_t N = in.params.shape[0];
  const size_t per_sample = N ? in.x->size() / static_cast<size_t>(N) : 0;
  size_t first = 0;
  for (int i = 0; i < r; ++i) first += static_cast<size_t>(in.shards[i]) * per_sample;
  const size_t count = static_cast<size_t>(in.shards[r]) * per_sample;
  auto context = Context::create_standalone(in.context_options);
  if (!context)
    return Status::invalid_argument("--sync-shards: shard " + std::to_string(r) + "'s context: " + context.status().message());
  rank.context = std::move(context.value());
  rank.params = in.params;
  rank.params.shape[0] = in.shards[r];
  auto layout = sync_batch_norm_exchange_layout(*rank.context, rank.params);
  if (!layout) return Status::invalid_argument("--sync-shards: shard " + std::to_string(r) + ": " + layout.status().message());
  rank.x.assign(in.x->begin() + first, in.x->begin() + first + count);
  if (in.dy) rank.dy.assign(in.dy->begin() + first, in.dy->begin() + first + count);
  rank.running_mean = *in.running_mean;
  rank.running_var = *in.running_var;
  return {};
}

Result<SyncRunResult> assemble(const std::vector<Rank>& ranks, bool backward) {
  for (size_t r = 0; r < ranks.size(); ++r)
    if (!ranks[r].error.empty()) return Status::invalid_argument("shard " + std::to_string(r) + ": " + ranks[r].error);
  const Rank& lead = ranks[0];
  for (size_t r = 1; r < ranks.size(); ++r) {
    const Rank& rank = ranks[r];
    for (auto [name, mine, theirs] : {std::tuple{"save_mean", &rank.forward.save_mean, &lead.forward.save_mean},
                                      {"save_invstd", &rank.forward.save_invstd, &lead.forward.save_invstd},
                                      {"running_mean", &rank.running_mean, &lead.running_mean},
                                      {"running_var", &rank.running_var, &lead.running_var}})
      if (!same_bits(*mine, *theirs))
        return Status::invalid_argument(std::string("--sync-shards: shard ") + std::to_string(r) + "'s " + name +
                                        " differs in its bits from shard 0's (the ranks must agree exactly)");
  }
  SyncRunResult out;
  out.forward.save_mean = lead.forward.save_mean;
  out.forward.save_invstd = lead.forward.save_invstd;
  out.running_mean = lead.running_mean;
  out.running_var = lead.running_var;
  for (const Rank& rank : ranks) out.forward.y.insert(out.forward.y.end(), rank.forward.y.begin(), rank.forward.y.end());
  if (!backward) return out;
  NormBackwardResult& back = out.backward.emplace();
  for (const Rank& rank : ranks) back.dx.insert(back.dx.end(), rank.backward.dx.begin(), rank.backward.dx.end());
  back.dweight = sum_over(ranks, &NormBackwardResult::dweight);
  back.dbias = sum_over(ranks, &NormBackwardResult::dbias);
  return out;
}

}  // namespace detail

Result<SyncRunResult> run_sync_batch_norm_threads(const SyncRunInputs& in) {
  const int size = static_cast<int>(in.shards.size());
  std::vector<detail::Rank> ranks(size);
  for (int r = 0; r < size; ++r) VKNORM_TRY(detail::prepare_rank(in, r, ranks[r]));
  auto comms = make_thread_communicators(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back(detail::run_rank, std::ref(ranks[r]), std::ref(*comms[r]), std::cref(in));
  for (auto& t : threads) t.join();
  return detail::assemble(ranks, in.dy != nullptr);
}

#ifndef VKNORM_CLI_MPI
Result<SyncRunResult> run_sync_batch_norm_mpi(const SyncRunInputs&) {
  return Status::invalid_argument("--comm mpi: MPI is not built into this vknorm (no Open MPI when it was built); "
                                  "use --comm threads");
}
#endif

}  // namespace vknorm::cli
