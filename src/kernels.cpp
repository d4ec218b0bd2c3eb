#include "kernels.hpp"

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

#include "context_state.hpp"
#include "vk/capabilities.hpp"
#include "vk/spirv_bindings.hpp"

// SPIR-V built from shaders/*.comp (cmake/shaders.cmake): vknorm_spirv_<name>_sg<0|1>_<dtype>
// for a SUBGROUP kernel, vknorm_spirv_<name>_<dtype> for a PLAIN one; dtype f32, f16, or
// f16p (packed halves).
#define VKNORM_DECLARE_MODULE(module)            \
  extern const uint32_t vknorm_spirv_##module[]; \
  extern const size_t vknorm_spirv_##module##_bytes;
#define VKNORM_DECLARE_SUBGROUP(name)    \
  VKNORM_DECLARE_MODULE(name##_sg0_f32)  \
  VKNORM_DECLARE_MODULE(name##_sg1_f32)  \
  VKNORM_DECLARE_MODULE(name##_sg0_f16)  \
  VKNORM_DECLARE_MODULE(name##_sg1_f16)  \
  VKNORM_DECLARE_MODULE(name##_sg0_f16p) \
  VKNORM_DECLARE_MODULE(name##_sg1_f16p)
#define VKNORM_DECLARE_PLAIN(name)  \
  VKNORM_DECLARE_MODULE(name##_f32) \
  VKNORM_DECLARE_MODULE(name##_f16) \
  VKNORM_DECLARE_MODULE(name##_f16p)
#define VKNORM_DECLARE(name, variants) VKNORM_DECLARE_##variants(name)
VKNORM_KERNELS(VKNORM_DECLARE)
#undef VKNORM_DECLARE
#undef VKNORM_DECLARE_PLAIN
#undef VKNORM_DECLARE_SUBGROUP
#undef VKNORM_DECLARE_MODULE

namespace vknorm {
namespace {

struct Spirv {
  const uint32_t* words;
  const size_t* bytes;
};

// [kernel][subgroup path][TensorStorage]
#define VKNORM_MODULE(module) {vknorm_spirv_##module, &vknorm_spirv_##module##_bytes}
#define VKNORM_ROW_SUBGROUP(name)                                                                   \
  {{VKNORM_MODULE(name##_sg0_f32), VKNORM_MODULE(name##_sg0_f16), VKNORM_MODULE(name##_sg0_f16p)}, \
   {VKNORM_MODULE(name##_sg1_f32), VKNORM_MODULE(name##_sg1_f16), VKNORM_MODULE(name##_sg1_f16p)}},
#define VKNORM_ROW_PLAIN(name)                                                          \
  {{VKNORM_MODULE(name##_f32), VKNORM_MODULE(name##_f16), VKNORM_MODULE(name##_f16p)}, \
   {VKNORM_MODULE(name##_f32), VKNORM_MODULE(name##_f16), VKNORM_MODULE(name##_f16p)}},
#define VKNORM_ROW(name, variants) VKNORM_ROW_##variants(name)
const Spirv kSpirv[][2][kTensorStorageCount] = {VKNORM_KERNELS(VKNORM_ROW)};
#undef VKNORM_ROW
#undef VKNORM_ROW_PLAIN
#undef VKNORM_ROW_SUBGROUP
#undef VKNORM_MODULE
static_assert(sizeof(kSpirv) / sizeof(kSpirv[0]) == static_cast<size_t>(KernelId::count_));

#define VKNORM_SUBGROUP_VARIANT_SUBGROUP true
#define VKNORM_SUBGROUP_VARIANT_PLAIN false
#define VKNORM_HAS_VARIANT(name, variants) VKNORM_SUBGROUP_VARIANT_##variants,
const bool kHasSubgroupVariant[] = {VKNORM_KERNELS(VKNORM_HAS_VARIANT)};
#undef VKNORM_HAS_VARIANT
#undef VKNORM_SUBGROUP_VARIANT_PLAIN
#undef VKNORM_SUBGROUP_VARIANT_SUBGROUP

}  // namespace

bool has_subgroup_variant(KernelId id) { return kHasSubgroupVariant[static_cast<size_t>(id)]; }

const char* to_string(TensorStorage storage) {
  switch (storage) {
    case TensorStorage::f32: return "float32";
    case TensorStorage::f16: return "float16";
    case TensorStorage::f16_packed: return "float16 packed in 32-bit words";
  }
  return "unknown";
}

TensorStorage tensor_storage(DType dtype, const Capabilities& caps) {
  if (dtype != DType::f16) return TensorStorage::f32;
  return caps.storage_buffer_16bit ? TensorStorage::f16 : TensorStorage::f16_packed;
}

SpirvModule kernel_spirv(KernelId id, bool subgroup_path, TensorStorage storage) {
  const Spirv& code = kSpirv[static_cast<size_t>(id)][subgroup_path ? 1 : 0][static_cast<size_t>(storage)];
  return {code.words, *code.bytes};
}

uint32_t workgroup_size_for(const Capabilities& caps) {
  uint32_t limit = std::min({256u, caps.max_workgroup_invocations, caps.max_workgroup_size_x,
                             caps.max_shared_memory / 16u});
  uint32_t size = 1;
  while (size * 2 <= limit) size *= 2;
  return size;
}

KernelId base_kernel(KernelId id) {
  switch (id) {
    case KernelId::normalize_vec4: return KernelId::normalize;
    case KernelId::stats_partial_columns_vec4: return KernelId::stats_partial;
    case KernelId::grad_partial_columns_vec4: return KernelId::grad_partial;
    case KernelId::team_forward_vec4: return KernelId::team_forward;
    case KernelId::team_forward_affine_vec4: return KernelId::team_forward;
    case KernelId::team_forward_affine_rows_vec4: return KernelId::team_forward;
    case KernelId::team_forward_weight_vec4: return KernelId::team_forward;
    case KernelId::team_forward_affine_blocks_vec4: return KernelId::team_forward;
    case KernelId::team_forward_weight_blocks_vec4: return KernelId::team_forward;
    case KernelId::team_backward_affine_vec4: return KernelId::team_backward;
    case KernelId::team_backward_affine_rows_vec4: return KernelId::team_backward;
    case KernelId::team_backward_affine_blocks_vec4: return KernelId::team_backward;
    case KernelId::team_forward_channel_vec4: return KernelId::team_forward;
    case KernelId::team_backward_channel_vec4: return KernelId::team_backward;
    case KernelId::team_forward_planes_vec4: return KernelId::team_forward;
    case KernelId::team_backward_planes_vec4: return KernelId::team_backward;
    case KernelId::fused_forward_vec4: return KernelId::fused_forward;
    case KernelId::grad_input_vec4: return KernelId::grad_input;
    case KernelId::grad_input_columns_vec4: return KernelId::grad_input;
    case KernelId::param_partial_vec4: return KernelId::param_partial;
    case KernelId::param_finalize_vec4: return KernelId::param_finalize;
    case KernelId::batch_norm_apply_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_cached_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_cached_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_pair_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_pair_cached_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_units_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_units_cached_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_pair_wide_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_pair_cached_wide_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_units_wide_vec4: return KernelId::batch_norm_apply;
    case KernelId::batch_norm_apply_columns_units_cached_wide_vec4: return KernelId::batch_norm_apply;
    case KernelId::normalize_channel_columns_vec4: return KernelId::normalize;
    case KernelId::normalize_channel_columns_pair_vec4: return KernelId::normalize;
    case KernelId::normalize_channel_columns_units_vec4: return KernelId::normalize;
    case KernelId::normalize_channel_columns_stats_units_vec4: return KernelId::normalize;
    case KernelId::normalize_channel_columns_stats_units_wide_vec4: return KernelId::normalize;
    case KernelId::normalize_channel_columns_pair_wide_vec4: return KernelId::normalize;
    default: return id;
  }
}

uint32_t kernel_workgroup_size(const Capabilities& caps, KernelId variant) {
  const KernelId id = base_kernel(variant);
  const bool team = id == KernelId::team_forward || id == KernelId::team_backward;
  return team ? team_workgroup_size(caps) : workgroup_size_for(caps);
}

uint32_t team_workgroup_size(const Capabilities& caps) {
  const uint32_t wg = workgroup_size_for(caps);
  if (caps.device_type != VK_PHYSICAL_DEVICE_TYPE_CPU) return wg;
  return std::min(wg, 8 * std::max(1u, caps.subgroup_size));
}

bool loads_loop_over_lanes(const Capabilities& caps) { return caps.driver_id == VK_DRIVER_ID_MESA_LLVMPIPE; }

uint32_t team_block_rows(const Capabilities& caps) { return loads_loop_over_lanes(caps) ? VKNORM_TEAM_BLOCK_ROWS : 1; }
bool is_team_blocks_kernel(KernelId id) {
  return id == KernelId::team_forward_affine_blocks_vec4 || id == KernelId::team_forward_weight_blocks_vec4 ||
         id == KernelId::team_backward_affine_blocks_vec4;
}

const char* kernel_name(KernelId id) {
  switch (id) {
#define VKNORM_NAME(name, variants) \
  case KernelId::name: return #name;
    VKNORM_KERNELS(VKNORM_NAME)
#undef VKNORM_NAME
    case KernelId::count_: break;
  }
  return "unknown";
}

Result<SlotMasks> kernel_slot_masks(KernelId id, bool subgroup_path, TensorStorage storage) {
  const SpirvModule code = kernel_spirv(id, subgroup_path, storage);
  auto reflected = vk::reflect_storage_buffers(code.words, code.bytes);
  if (!reflected) return reflected.status();
  return SlotMasks{reflected->used, reflected->written};
}

int stand_in_slot(uint32_t slot, uint32_t used, uint32_t written, uint32_t bound) {
  const uint32_t bit = 1u << slot;
  if (!(used & bit) || (bound & bit)) return -1;
  const uint32_t sources = bound & used & ((written & bit) ? written : ~written);
  return sources ? std::countr_zero(sources) : -1;
}

namespace {

// Undoes a partly made entry (every handle may be null).
void destroy_objects(ContextState& s, KernelEntry& e) {
  if (e.pipeline) s.vk.DestroyPipeline(s.device, e.pipeline, s.allocator);
  if (e.update_template) s.vk.DestroyDescriptorUpdateTemplate(s.device, e.update_template, s.allocator);
  if (e.layout) s.vk.DestroyPipelineLayout(s.device, e.layout, s.allocator);
  if (e.set_layout) s.vk.DestroyDescriptorSetLayout(s.device, e.set_layout, s.allocator);
  e = {};
}

Status create_layouts(ContextState& s, KernelEntry& e, const char* name) {
  const bool push = s.caps.push_descriptors;
  VkDescriptorSetLayoutBinding bindings[kSlotCount];
  VkDescriptorUpdateTemplateEntry entries[kSlotCount];
  uint32_t count = 0;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    if (!(e.slots & (1u << slot))) continue;
    bindings[count] = {slot, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    entries[count] = {slot, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, slot * sizeof(VkDescriptorBufferInfo),
                      sizeof(VkDescriptorBufferInfo)};
    ++count;
  }
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.flags = push ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
  set_info.bindingCount = count;
  set_info.pBindings = bindings;
  VkResult r = s.vk.CreateDescriptorSetLayout(s.device, &set_info, s.allocator, &e.set_layout);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateDescriptorSetLayout(") + name + ")");

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(PushConstants)};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &e.set_layout;
  layout_info.pushConstantRangeCount = 1;
  layout_info.pPushConstantRanges = &range;
  r = s.vk.CreatePipelineLayout(s.device, &layout_info, s.allocator, &e.layout);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreatePipelineLayout(") + name + ")");

  if (count == 0) return {};  // nothing to write: the recorder binds no descriptors
  VkDescriptorUpdateTemplateCreateInfo template_info{VK_STRUCTURE_TYPE_DESCRIPTOR_UPDATE_TEMPLATE_CREATE_INFO};
  template_info.descriptorUpdateEntryCount = count;
  template_info.pDescriptorUpdateEntries = entries;
  template_info.templateType =
      push ? VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_PUSH_DESCRIPTORS_KHR : VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_DESCRIPTOR_SET;
  template_info.descriptorSetLayout = e.set_layout;
  template_info.pipelineBindPoint = VK_PIPELINE_BIND_POINT_COMPUTE;
  template_info.pipelineLayout = e.layout;
  template_info.set = 0;
  r = s.vk.CreateDescriptorUpdateTemplate(s.device, &template_info, s.allocator, &e.update_template);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateDescriptorUpdateTemplate(") + name + ")");
  return {};
}

Status create_pipeline(ContextState& s, KernelEntry& e, const uint32_t* words, size_t bytes, const char* name) {
  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = bytes;
  module_info.pCode = words;
  VkShaderModule module = VK_NULL_HANDLE;
  VkResult r = s.vk.CreateShaderModule(s.device, &module_info, s.allocator, &module);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateShaderModule(") + name + ")");

  const uint32_t spec_values[2] = {e.workgroup_size,
                                   std::min(e.workgroup_size, std::max(1u, s.caps.min_subgroup_size))};
  const VkSpecializationMapEntry map[2] = {{0, 0, 4}, {1, 4, 4}};
  VkSpecializationInfo spec{2, map, sizeof(spec_values), spec_values};

  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = &spec;
  info.layout = e.layout;
  r = s.vk.CreateComputePipelines(s.device, s.pipeline_cache, 1, &info, s.allocator, &e.pipeline);
  s.vk.DestroyShaderModule(s.device, module, s.allocator);
  if (r != VK_SUCCESS) return Status::vulkan(r, std::string("vkCreateComputePipelines(") + name + ")");
  return {};
}

}  // namespace

Result<KernelEntry> create_kernel_entry(ContextState& s, const uint32_t* words, size_t bytes,
                                        uint32_t workgroup_size, const char* name) {
  auto reflected = vk::reflect_storage_buffers(words, bytes);
  if (!reflected) return Status::internal(std::string(name) + ": " + reflected.status().message());
  if (reflected->used >> kSlotCount)
    return Status::internal(std::string(name) + ": uses a binding past the " + std::to_string(kSlotCount) +
                            " slots of src/shader_contract.h");
  KernelEntry e;
  e.name = name;
  e.workgroup_size = workgroup_size;
  e.slots = reflected->used;
  e.written_slots = reflected->written;
  Status st = create_layouts(s, e, name);
  if (st.ok()) st = create_pipeline(s, e, words, bytes, name);
  if (!st.ok()) {
    destroy_objects(s, e);
    return st;
  }
  return e;
}

void destroy_kernel_entry(ContextState& s, KernelEntry& e) { destroy_objects(s, e); }

void KernelCache::destroy(ContextState& s) {
  for (size_t k = 0; k < kKernels; ++k)
    for (size_t d = 0; d < 2; ++d)
      if (published_[k][d].exchange(nullptr)) destroy_objects(s, entries_[k][d]);
}

Result<const KernelEntry*> KernelCache::get(ContextState& s, KernelId id, DType dtype) {
  const KernelEntry* entry = published_[static_cast<size_t>(id)][index(dtype)].load(std::memory_order_acquire);
  if (entry) return entry;
  if (s.require_prepared_kernels)
    return Status::invalid_argument(std::string("kernel ") + kernel_name(id) + " (" + to_string(tensor_storage(dtype, s.caps)) +
                                    ") is not prepared, and require_prepared_kernels forbids creating its "
                                    "pipeline while recording: call prepare_kernels for it first");
  auto made = ensure(s, id, dtype);
  if (!made) return made.status();
  return published_[static_cast<size_t>(id)][index(dtype)].load(std::memory_order_acquire);
}

Result<bool> KernelCache::ensure(ContextState& s, KernelId id, DType dtype) {
  if (static_cast<size_t>(id) >= kKernels) return Status::invalid_argument("kernel: not one of vknorm's kernels");
  auto& slot = published_[static_cast<size_t>(id)][index(dtype)];
  if (slot.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(create_mutex_);
  if (slot.load(std::memory_order_relaxed)) return false;  // another thread made it meanwhile
  const SpirvModule code =
      kernel_spirv(id, s.caps.reduction_path == ReductionPath::subgroup, tensor_storage(dtype, s.caps));
  auto made = create_kernel_entry(s, code.words, code.bytes, kernel_workgroup_size(s.caps, id), kernel_name(id));
  if (!made) return made.status();
  KernelEntry& entry = entries_[static_cast<size_t>(id)][index(dtype)];
  entry = made.value();
  slot.store(&entry, std::memory_order_release);
  return true;
}

ObjectCounts KernelCache::counts() const {
  ObjectCounts c;
  for (size_t k = 0; k < kKernels; ++k)
    for (size_t d = 0; d < 2; ++d)
      if (const KernelEntry* e = published_[k][d].load(std::memory_order_acquire)) {
        ++c.pipelines;
        ++c.pipeline_layouts;
        ++c.set_layouts;
        c.update_templates += e->update_template ? 1 : 0;
      }
  return c;
}

bool KernelCache::created(KernelId id, DType dtype) const {
  if (static_cast<size_t>(id) >= kKernels) return false;
  return published_[static_cast<size_t>(id)][index(dtype)].load(std::memory_order_acquire) != nullptr;
}

Status KernelCache::prepare(ContextState& s, DType dtype) {
  for (uint32_t i = 0; i < static_cast<uint32_t>(KernelId::count_); ++i) {
    auto made = ensure(s, static_cast<KernelId>(i), dtype);
    if (!made) return made.status();
  }
  return {};
}

Status KernelCache::prepare_all(ContextState& s) {
  VKNORM_TRY(prepare(s, DType::f32));
  return prepare(s, DType::f16);  // native or packed: every device runs float16
}

}  // namespace vknorm
