// The C API, part 3: SyncBatchNorm (include/vknorm/vknorm.h, "SyncBatchNorm"). The
// caller's transport (vknorm_communicator) behind a vknorm::Communicator, the in-process
// thread world, the phases of the forward and backward, and the standalone per-rank calls.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "c_api/host_io.hpp"
#include "ops/sync_batchnorm_plan.hpp"
#include "vknorm/communicator.hpp"
#include "vknorm/sync_batchnorm.hpp"

struct vknorm_thread_world {
  std::vector<std::unique_ptr<vknorm::Communicator>> ranks;  // make_thread_communicators'
};

namespace vknorm::capi {
namespace {

// The thread world's all_gather as a C callback: `user` is the rank's Communicator.
vknorm_status thread_world_all_gather(void* user, const void* send, size_t bytes, void* out) {
  return guard(nullptr, "vknorm_thread_world all_gather", [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, user);
    return static_cast<Communicator*>(user)->all_gather(send, bytes, out);
  });
}

const char* c_status_name(vknorm_status s) {
  switch (s) {
    case VKNORM_STATUS_OK: return "VKNORM_STATUS_OK";
    case VKNORM_STATUS_INVALID_ARGUMENT: return "VKNORM_STATUS_INVALID_ARGUMENT";
    case VKNORM_STATUS_UNSUPPORTED: return "VKNORM_STATUS_UNSUPPORTED";
    case VKNORM_STATUS_VULKAN_ERROR: return "VKNORM_STATUS_VULKAN_ERROR";
    case VKNORM_STATUS_OUT_OF_MEMORY: return "VKNORM_STATUS_OUT_OF_MEMORY";
    case VKNORM_STATUS_INTERNAL: return "VKNORM_STATUS_INTERNAL";
    default: return nullptr;
  }
}

// The caller's vknorm_communicator as a vknorm::Communicator. A communicator of a thread
// world is used directly, so that its own messages (a count mismatch) reach the caller.
class CCommunicator final : public Communicator {
 public:
  explicit CCommunicator(const vknorm_communicator& c) : c_(c) {}

  // rank and size in range, a callback; a thread world's rank as the world made it.
  Status check() const {
    if (c_.size < 1) return Status::invalid_argument("comm.size: expected at least 1, got " + std::to_string(c_.size));
    if (c_.rank < 0 || c_.rank >= c_.size)
      return Status::invalid_argument("comm.rank: expected 0 <= rank < comm.size (" + std::to_string(c_.size) +
                                      "), got " + std::to_string(c_.rank));
    if (!c_.all_gather) return Status::invalid_argument("comm.all_gather: expected a callback, got NULL");
    if (const Communicator* own = thread_rank()) {
      if (own->rank() != c_.rank || own->size() != c_.size)
        return Status::invalid_argument("comm.rank, comm.size: a thread world's communicator of rank " +
                                        std::to_string(own->rank()) + " of " + std::to_string(own->size()) +
                                        ", got rank " + std::to_string(c_.rank) + " of " + std::to_string(c_.size));
    }
    return {};
  }

  // Whether all_gather has somewhere to go (its callback may be NULL: check() refuses that).
  bool has_transport() const { return c_.all_gather != nullptr; }

  int rank() const override { return c_.rank; }
  int size() const override { return c_.size; }

  Status all_gather(const void* send, size_t bytes, void* out) override {
    if (Communicator* own = thread_rank()) return own->all_gather(send, bytes, out);
    const vknorm_status s = c_.all_gather(c_.user, send, bytes, out);
    if (s == VKNORM_STATUS_OK) return {};
    const char* name = c_status_name(s);
    std::string message = "comm.all_gather: the callback failed on rank " + std::to_string(c_.rank) + " of " +
                          std::to_string(c_.size) + " (" + std::to_string(bytes) + " bytes), returning " +
                          (name ? name : std::to_string(static_cast<int>(s)));
    if (s == VKNORM_STATUS_INVALID_ARGUMENT) return Status::invalid_argument(std::move(message));
    if (s == VKNORM_STATUS_UNSUPPORTED) return Status::unsupported(std::move(message));
    return Status::internal(std::move(message));
  }

 private:
  Communicator* thread_rank() const {
    return c_.all_gather == &thread_world_all_gather ? static_cast<Communicator*>(c_.user) : nullptr;
  }
  vknorm_communicator c_;  // a copy: the caller's struct may change during the call
};

// The shard's channel count, after SyncBatchNorm's checks of the params.
Result<uint64_t> shard_channels(const BatchNormParams& params) {
  auto plan = sync_detail::sync_plan(params);
  if (!plan) return plan.status();
  return plan->geometry.channels;
}

Status check_capacity(const char* field, size_t capacity, uint64_t needed) {
  if (capacity < needed)
    return Status::invalid_argument(std::string(field) + ": capacity of " + std::to_string(capacity) +
                                    " floats, expected at least " + std::to_string(needed));
  return {};
}

// Runs one rank's standalone call `body(comm, entered)`. A rank whose call fails before
// it reaches the C++ call (which enters the exchange itself) enters it with nothing, so
// that the other ranks fail too rather than wait.
template <class Body>
vknorm_status per_rank_entry(const char* function, vknorm_context* context, const vknorm_communicator* comm,
                             Body&& body) {
  return guard(context, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, comm);
    CCommunicator adapter(*comm);
    // On every way out (a refusal, a failure, an exception guard turns into a status)
    // before the C++ call entered the exchange. Even with a bad rank or size field the
    // transport itself can still be entered (a thread world's rank, or the caller's
    // callback, knows who it is).
    struct EnterUnlessEntered {
      CCommunicator& adapter;
      bool entered = false;
      ~EnterUnlessEntered() {
        if (!entered && adapter.has_transport()) (void)adapter.all_gather(nullptr, 0, nullptr);
      }
    } exchange{adapter};
    VKNORM_TRY(adapter.check());
    return body(fn, adapter, exchange.entered);
  });
}

// A communicator that keeps what its first all_gather received: the forward's gathered
// statistics records, from which the merged count is read again.
class KeepingFirstGather final : public Communicator {
 public:
  explicit KeepingFirstGather(Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Status all_gather(const void* send, size_t bytes, void* out) override {
    VKNORM_TRY(inner_.all_gather(send, bytes, out));
    if (!kept_ && bytes) {
      const auto* o = static_cast<const unsigned char*>(out);
      gathered.assign(o, o + bytes * static_cast<size_t>(size()));
      kept_ = true;
    }
    return {};
  }
  std::vector<unsigned char> gathered;

 private:
  Communicator& inner_;
  bool kept_ = false;
};

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm::capi;
using vknorm::BatchNormParams;
using vknorm::CommandRecorder;
using vknorm::NormBackwardBuffers;
using vknorm::NormForwardBuffers;
using vknorm::Status;

extern "C" {

// ---- Transport ----

vknorm_status vknorm_all_reduce_sum(const vknorm_communicator* comm, float* data, size_t count) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, comm);
    CCommunicator adapter(*comm);
    VKNORM_TRY(adapter.check());
    return vknorm::all_reduce_sum(adapter, data, count);
  });
}

vknorm_status vknorm_thread_world_create(int size, vknorm_thread_world** out_world) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, out_world);
    *out_world = nullptr;
    if (size < 1) return Status::invalid_argument("size: expected at least 1, got " + std::to_string(size));
    auto world = std::make_unique<vknorm_thread_world>();
    world->ranks = vknorm::make_thread_communicators(size);
    *out_world = world.release();
    return {};
  });
}

vknorm_status vknorm_thread_world_communicator(vknorm_thread_world* world, int rank, vknorm_communicator* out_comm) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, world);
    VKNORM_CAPI_REQUIRE(fn, out_comm);
    const int size = static_cast<int>(world->ranks.size());
    if (rank < 0 || rank >= size)
      return Status::invalid_argument("rank: expected 0 <= rank < " + std::to_string(size) + ", got " +
                                      std::to_string(rank));
    *out_comm = vknorm_communicator{};
    out_comm->user = world->ranks[static_cast<size_t>(rank)].get();
    out_comm->rank = rank;
    out_comm->size = size;
    out_comm->all_gather = &thread_world_all_gather;
    return {};
  });
}

void vknorm_thread_world_destroy(vknorm_thread_world* world) { delete world; }

// ---- Per rank, standalone ----

vknorm_status vknorm_sync_batch_norm_forward_host(vknorm_context* context, const vknorm_communicator* comm,
                                                  const vknorm_batch_norm_params* params, const vknorm_host_forward* io,
                                                  uint64_t* out_merged_count) {
  return per_rank_entry(__func__, context, comm, [&](const char* fn, vknorm::Communicator& c, bool& entered) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    KeepingFirstGather keeping(c);
    uint64_t merged_count = 0;
    VKNORM_TRY(run_host_forward(*io, [&](const vknorm::HostForwardArrays& a) -> vknorm::Result<vknorm::NormForwardResult> {
      entered = true;
      auto result = vknorm::sync_batch_norm_forward(*context->cxx, keeping, p.value(), a.x, a.weight, a.bias,
                                                    a.running_mean, a.running_var, a.residual);
      if (!result) return result.status();
      // The forward merged these records already; merging them again gives its count.
      auto merged = vknorm::merge_sync_batch_norm_statistics(p.value(), keeping.gathered.data(), keeping.size());
      if (!merged) return merged.status();
      merged_count = merged->count;
      return result;
    }));
    if (out_merged_count) *out_merged_count = merged_count;
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_backward_host(vknorm_context* context, const vknorm_communicator* comm,
                                                   const vknorm_batch_norm_params* params,
                                                   const vknorm_host_backward* io, uint64_t merged_count) {
  return per_rank_entry(__func__, context, comm, [&](const char* fn, vknorm::Communicator& c, bool& entered) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    return run_host_backward(*io, [&](const vknorm::HostBackwardArrays& a) {
      entered = true;
      return vknorm::sync_batch_norm_backward(*context->cxx, c, p.value(), a.x, a.dy, a.weight, a.save_mean,
                                              a.save_invstd, merged_count, a.y);
    });
  });
}

// ---- The forward's phases ----

vknorm_status vknorm_sync_batch_norm_exchange_layout(const vknorm_context* context,
                                                     const vknorm_batch_norm_params* params,
                                                     vknorm_sync_batch_norm_exchange* out_layout) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, out_layout);
    auto p = convert(*params);
    if (!p) return p.status();
    auto l = vknorm::sync_batch_norm_exchange_layout(*context->cxx, p.value());
    if (!l) return l.status();
    *out_layout = {l->download_offset, l->download_bytes, l->send_bytes, l->upload_offset, l->upload_bytes, l->chunks};
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_workspace_size(const vknorm_context* context,
                                                    const vknorm_batch_norm_params* params, uint64_t* out_bytes) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, out_bytes);
    auto p = convert(*params);
    if (!p) return p.status();
    auto bytes = vknorm::sync_batch_norm_workspace_size(*context->cxx, p.value());
    if (!bytes) return bytes.status();
    *out_bytes = bytes.value();
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_record_statistics(vknorm_recorder* recorder,
                                                       const vknorm_batch_norm_params* params,
                                                       const vknorm_forward_buffers* buffers) {
  return checked_record(__func__, recorder, params, buffers,
                        [&](CommandRecorder& rec, const BatchNormParams& p, const NormForwardBuffers& b) {
                          return vknorm::record_sync_batch_norm_statistics(rec, p, b);
                        });
}

vknorm_status vknorm_sync_batch_norm_compact_statistics(const vknorm_batch_norm_params* params,
                                                        const vknorm_sync_batch_norm_exchange* layout,
                                                        const void* downloaded, void* send) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, layout);
    auto p = convert(*params);
    if (!p) return p.status();
    if (layout->download_bytes) VKNORM_CAPI_REQUIRE(fn, downloaded);
    if (layout->send_bytes) VKNORM_CAPI_REQUIRE(fn, send);
    vknorm::SyncBatchNormExchange l;
    l.download_offset = layout->download_offset;
    l.download_bytes = layout->download_bytes;
    l.send_bytes = layout->send_bytes;
    l.upload_offset = layout->upload_offset;
    l.upload_bytes = layout->upload_bytes;
    l.chunks = layout->chunks;
    return vknorm::compact_sync_batch_norm_statistics(p.value(), l, downloaded, send);
  });
}

vknorm_status vknorm_sync_batch_norm_merge_statistics(const vknorm_batch_norm_params* params, const void* gathered,
                                                      int world_size, float* upload, size_t upload_capacity,
                                                      uint64_t* out_merged_count) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, gathered);
    VKNORM_CAPI_REQUIRE(fn, upload);
    VKNORM_CAPI_REQUIRE(fn, out_merged_count);
    if (world_size < 1)
      return Status::invalid_argument("world_size: expected at least 1, got " + std::to_string(world_size));
    auto p = convert(*params);
    if (!p) return p.status();
    auto merged = vknorm::merge_sync_batch_norm_statistics(p.value(), gathered, world_size);
    if (!merged) return merged.status();
    VKNORM_TRY(check_capacity("upload_capacity", upload_capacity, merged->upload.size()));
    std::memcpy(upload, merged->upload.data(), merged->upload.size() * sizeof(float));
    *out_merged_count = merged->count;
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_record_apply(vknorm_recorder* recorder, const vknorm_batch_norm_params* params,
                                                  const vknorm_forward_buffers* buffers, uint64_t merged_count) {
  return checked_record(__func__, recorder, params, buffers,
                        [&](CommandRecorder& rec, const BatchNormParams& p, const NormForwardBuffers& b) {
                          return vknorm::record_sync_batch_norm_apply(rec, p, b, merged_count);
                        });
}

// ---- The backward's phases ----

vknorm_status vknorm_sync_batch_norm_grad_exchange_layout(const vknorm_context* context,
                                                          const vknorm_batch_norm_params* params,
                                                          vknorm_sync_batch_norm_grad_exchange* out_layout) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, out_layout);
    auto p = convert(*params);
    if (!p) return p.status();
    auto l = vknorm::sync_batch_norm_grad_exchange_layout(*context->cxx, p.value());
    if (!l) return l.status();
    *out_layout = {l->download_offset, l->download_bytes, l->upload_offset, l->upload_bytes, l->chunks};
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_record_grad_sums(vknorm_recorder* recorder,
                                                      const vknorm_batch_norm_params* params,
                                                      const vknorm_backward_buffers* buffers) {
  return checked_record(__func__, recorder, params, buffers,
                        [&](CommandRecorder& rec, const BatchNormParams& p, const NormBackwardBuffers& b) {
                          return vknorm::record_sync_batch_norm_grad_sums(rec, p, b);
                        });
}

vknorm_status vknorm_sync_batch_norm_compact_grad_sums(const vknorm_batch_norm_params* params,
                                                       const vknorm_sync_batch_norm_grad_exchange* layout,
                                                       const void* downloaded, float* local, size_t local_capacity) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, layout);
    VKNORM_CAPI_REQUIRE(fn, local);
    auto p = convert(*params);
    if (!p) return p.status();
    auto channels = shard_channels(p.value());
    if (!channels) return channels.status();
    VKNORM_TRY(check_capacity("local_capacity", local_capacity, 2 * channels.value()));
    if (layout->download_bytes) VKNORM_CAPI_REQUIRE(fn, downloaded);
    vknorm::SyncBatchNormGradExchange l;
    l.download_offset = layout->download_offset;
    l.download_bytes = layout->download_bytes;
    l.upload_offset = layout->upload_offset;
    l.upload_bytes = layout->upload_bytes;
    l.chunks = layout->chunks;
    return vknorm::compact_sync_batch_norm_grad_sums(p.value(), l, downloaded, local);
  });
}

vknorm_status vknorm_sync_batch_norm_grad_upload(const float* local, const float* global, size_t channels,
                                                 float* upload, size_t upload_capacity) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    if (channels > 0) {
      VKNORM_CAPI_REQUIRE(fn, local);
      VKNORM_CAPI_REQUIRE(fn, global);
      VKNORM_CAPI_REQUIRE(fn, upload);
    }
    VKNORM_TRY(check_capacity("upload_capacity", upload_capacity, 4 * static_cast<uint64_t>(channels)));
    const std::vector<float> l(local, local + 2 * channels), g(global, global + 2 * channels);
    const std::vector<float> out = vknorm::sync_batch_norm_grad_upload(l, g);
    if (!out.empty()) std::memcpy(upload, out.data(), out.size() * sizeof(float));
    return {};
  });
}

vknorm_status vknorm_sync_batch_norm_record_grad_input(vknorm_recorder* recorder,
                                                       const vknorm_batch_norm_params* params,
                                                       const vknorm_backward_buffers* buffers, uint64_t merged_count) {
  return checked_record(__func__, recorder, params, buffers,
                        [&](CommandRecorder& rec, const BatchNormParams& p, const NormBackwardBuffers& b) {
                          return vknorm::record_sync_batch_norm_grad_input(rec, p, b, merged_count);
                        });
}

}  // extern "C"
